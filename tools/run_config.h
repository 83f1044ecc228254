#pragma once
// The options of one `loom train` run: parsed from the command line, saved as
// RUN_DIR/config.json, and read back by `loom eval` and `loom predict`.
#include <cstdint>
#include <string>

namespace loom::tools {

struct RunConfig {
  std::string task;         // sentiment, spam, fashion, sp500, charlm, g2p, caption
  std::string run_dir;      // where everything the run writes goes
  std::string data_dir;     // where the task's data is
  std::string model = "rows";  // fashion: "rows" (row-by-row LSTM) or "cnn" (CNN features)
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
  std::int64_t max_tokens = 0;  // text tasks: read only the first words (0: all)
  std::string attention = "luong";  // g2p: "luong" or "bahdanau"; caption: "luong" or "none"
  std::int64_t beam = 5;            // g2p, caption: beam size for test decoding and inference
  std::int64_t scenes = 20000;      // caption: training scenes
  std::string encoder;              // caption: a fashion CNN run whose encoder starts the captioner
  bool freeze_encoder = false;      // caption: keep that encoder fixed (features computed once)
  std::uint64_t seed = 0;
  int threads = 1;
  bool progress = true;
};

/// Writes RUN_DIR/config.json atomically.
void save_config(const RunConfig& config);
/// Reads RUN_DIR/config.json; an IOError names what is missing or malformed.
RunConfig load_config(const std::string& run_dir);

}  // namespace loom::tools
