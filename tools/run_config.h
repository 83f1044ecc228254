#pragma once
// The options of one `loom train` run: parsed from the command line, saved as
// RUN_DIR/config.json, and read back by `loom eval` and `loom predict`.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace loom::tools {

struct RunConfig {
  std::string task;         // sentiment, spam, fashion, sp500, charlm, g2p, caption, translate
  std::string run_dir;      // where everything the run writes goes
  std::string data_dir;     // where the task's data is
  // fashion: "rows" (row-by-row LSTM) or "cnn" (CNN features); sentiment, spam: "rnn" (a recurrent
  // SequenceClassifier) or "bag" (its bag of words: logistic regression over word presence)
  std::string model = "rows";
  std::string cell = "lstm";
  std::int64_t embedding_dim = 64;
  std::int64_t hidden = 64;
  std::int64_t layers = 1;
  bool bidirectional = true;
  double dropout = 0.5;
  std::string pooling = "max";
  std::string optimizer = "adam";
  double lr = 3e-3;
  double weight_decay = 0.05;
  std::int64_t epochs = 12;
  std::int64_t batch = 32;
  std::int64_t min_frequency = 1;
  std::int64_t max_tokens = 0;  // text tasks: read only the first words; translate: longest training pair (0: all)
  double word_dropout = 0.0;           // text tasks: read a token as <unk> with this probability in training
  std::string class_weights = "none";  // text tasks: "balanced" weighs each class by 1 / its frequency
  std::string attention = "luong";  // g2p, translate: "luong" or "bahdanau"; caption: "luong" or "none"
  std::int64_t beam = 5;            // g2p, translate, caption: beam size for test decoding and inference
  // g2p, translate: beam search's ranking (models::DecodeOptions): "power" (length^alpha) or "gnmt"
  // (((5 + length) / 6)^alpha) normalisation, alpha, and GNMT's coverage penalty beta
  std::string length_normalization = "power";
  double length_penalty = 1.0;
  double coverage_penalty = 0.0;
  std::string arch = "stacked";         // g2p, translate: "stacked" or "gnmt" (models::Seq2SeqOptions::architecture)
  std::int64_t subwords = 0;            // translate: SentencePiece pieces per model (0: whole words)
  std::string subword_type = "unigram";  // translate: "unigram" or "bpe"
  bool shared_subwords = false;         // translate: one subword model for both languages
  std::int64_t scenes = 20000;      // caption: training scenes
  std::string encoder;              // caption: a fashion CNN run whose encoder starts the captioner
  bool freeze_encoder = false;      // caption: keep that encoder fixed (features computed once)
  double time_limit = 0.0;          // minutes of training; the run stops after the epoch that passes it (0: none)
  std::uint64_t seed = 0;
  int threads = 1;
  bool progress = true;
  bool int8 = false;  // eval and the inference commands' --int8: quantize the loaded model
};

/// The values each option may take: the command line checks them, and load_config checks a
/// saved file against them, so a hand-edited or hostile config.json cannot ask for a model of
/// 10^12 units.
struct Range {
  double min, max;
};
namespace limits {
inline constexpr Range embedding_dim{1, 4096}, hidden{1, 8192}, layers{1, 16}, dropout{0.0, 0.95}, lr{1e-7, 10.0},
    weight_decay{0.0, 1.0}, epochs{1, 100000}, batch{1, 100000}, min_frequency{1, 1000000}, max_tokens{0, 1000000},
    word_dropout{0.0, 0.9}, beam{1, 100}, length_penalty{0.0, 10.0}, coverage_penalty{0.0, 10.0}, subwords{0, 100000}, scenes{1, 1000000}, time_limit{0.0, 1e6}, threads{1, 256};
inline const std::vector<std::string> models{"rows", "cnn", "rnn", "bag"}, cells{"lstm", "gru"},
    poolings{"last", "mean", "max"}, optimizers{"adam", "sgd"}, class_weights{"none", "balanced"},
    attentions{"luong", "bahdanau", "none"}, length_normalizations{"power", "gnmt"}, architectures{"stacked", "gnmt"},
    subword_types{"unigram", "bpe"};
}  // namespace limits

/// sentiment and spam: the tasks whose runs hold a SequenceClassifier over a word vocabulary.
inline bool is_text_task(const std::string& task) { return task == "sentiment" || task == "spam"; }

/// The config as config.json holds it (every key but run_dir, progress and int8), as indented JSON.
std::string config_json(const RunConfig& config);
/// Writes RUN_DIR/config.json atomically.
void save_config(const RunConfig& config);
/// A --config file: the keys of config.json, each optional.
struct ConfigFile {
  RunConfig values;               // the file's values; defaults for the keys it lacks
  std::vector<std::string> keys;  // the keys it holds
};
/// Reads a --config file (at most 1 MiB). An IOError names the file and a key it does not know, a
/// value of the wrong type or one outside its range. Its task is not checked here: the tasks are
/// the loom program's.
ConfigFile read_config_file(const std::string& path);
/// Copies into `config` each value the file gives, except those of the keys `keep` names.
void apply_config_file(const ConfigFile& file, RunConfig& config, const std::function<bool(const std::string& key)>& keep);
/// Reads RUN_DIR/config.json (at most 1 MiB, checked before reading); an IOError names what is missing, malformed or
/// outside its range. Keys it does not know are left alone (a later loom may have added them), and so is its task
/// (the tasks are the loom program's).
RunConfig load_config(const std::string& run_dir);
/// A lock on a run folder (flock(2) on RUN_DIR/.lock), held until it is destroyed or the process
/// ends, however it ends. `loom train` holds it exclusively and writes its PID in the file, so a
/// second trainer of the folder stops at once instead of mixing two runs' files; the commands
/// that read a run (eval, predict...) share it, so they never read a folder while it is trained.
class RunFolderLock {
 public:
  enum class Mode { exclusive, shared };
  /// Takes the lock without waiting; an IOError names `command`, the folder and the process
  /// holding it. Only the exclusive lock creates RUN_DIR/.lock: a shared lock on a folder without
  /// one (never trained, or read-only) is skipped, as there is no trainer to wait for.
  RunFolderLock(const std::string& run_dir, Mode mode, const std::string& command);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
  Mode mode_;
};

/// The options that differ between two runs, as "cell: \"lstm\" -> \"gru\"", leaving out those a
/// resumed run may change (epochs, time_limit, threads): a run folder resumes only with its own options.
std::vector<std::string> changed_options(const RunConfig& before, const RunConfig& after);

}  // namespace loom::tools
