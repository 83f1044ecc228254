#include "fuzz_targets.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <loom/data.h>
#include <loom/layers/linear.h>
#include <loom/loom.h>
#include <loom/optim/optimizers.h>
#include <loom/optim/scheduler.h>
#include <loom/optim/trainer.h>

#include "run_config.h"
#ifdef LOOM_FUZZ_SUBWORDS
#include "subwords.h"  // SentencePiece comes with the loom program's sources: built only with them
#endif

namespace loom_fuzz {
namespace {

// A private folder on a RAM disk when there is one (fuzzing writes a file per input), removed
// when the process exits.
class ScratchDir {
 public:
  ScratchDir() {
    const std::filesystem::path base =
        access("/dev/shm", W_OK) == 0 ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    path_ = (base / "loom-fuzz-XXXXXX").string();
    if (!mkdtemp(path_.data())) std::abort();
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

// Writes the input as scratch_dir()/name and returns the path.
std::string write_input(const char* name, const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

// Runs `read`, mapping a typed Loom error to "rejected".
template <class F>
bool accepts(F read) {
  try {
    read();
    return true;
  } catch (const loom::Error&) {
    return false;
  }
}

bool fuzz_safetensors(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("t.safetensors", data, size);
  return accepts([&] {
    const auto file = loom::load_safetensors(path);
    for (const auto& [name, tensor] : file.tensors)
      if (tensor.numel() * static_cast<std::int64_t>(loom::dtype_size(tensor.dtype())) > static_cast<std::int64_t>(size))
        std::abort();  // a tensor larger than the file it came from
  });
}

// The trainer's checkpoint: a model, an optimizer with state, a schedule and a plateau, as a
// run of the loom program has them.
struct TinyModel : loom::Module {
  std::shared_ptr<loom::Linear> fc = register_module("fc", std::make_shared<loom::Linear>(3, 2));
};

bool fuzz_checkpoint(const std::uint8_t* data, std::size_t size) {
  const std::string run_dir = scratch_dir() + "/run";
  std::filesystem::create_directories(run_dir);
  write_input("run/last.safetensors", data, size);
  TinyModel model;
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(1e-3));
  loom::optim::StepLR schedule(adam, 2);
  loom::optim::ReduceLROnPlateau plateau(adam);
  loom::optim::Trainer trainer(model, adam, loom::optim::TrainerOptions().run_dir(run_dir).progress(false));
  trainer.set_scheduler(&schedule);
  trainer.set_plateau(&plateau);
  return accepts([&] { trainer.resume(); });
}

// A run folder's metrics.jsonl (one line an epoch), which the text tasks' reports read back.
bool fuzz_metrics_log(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("metrics.jsonl", data, size);
  return accepts([&] {
    for (const auto& epoch : loom::optim::read_metrics_log(path))
      if (epoch.values.size() > size) std::abort();  // a value per few bytes at most
  });
}

// First byte: bit 0 labels (else images); the rest is the file, gzip'ed or raw.
bool fuzz_idx(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return false;
  const bool labels = data[0] & 1;
  const std::string path = write_input("data.idx", data + 1, size - 1);
  return accepts([&] {
    const auto t = labels ? loom::data::read_idx_labels(path) : loom::data::read_idx_images(path);
    if (t.numel() > static_cast<std::int64_t>(size) * 1100) std::abort();  // at most zlib's 1032:1
  });
}

// First byte: bit 0 tab (else comma), bit 1 a header, bit 2 quoting, bit 3 a numeric column
// ("close", as the sp500 task reads); the rest is the file.
bool fuzz_delimited(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return false;
  const std::uint8_t mode = data[0];
  const std::string path = write_input("table.csv", data + 1, size - 1);
  const char delimiter = mode & 1 ? '\t' : ',';
  return accepts([&] {
    if (mode & 8) {
      loom::data::read_csv_column(path, "close", delimiter);
      return;
    }
    const auto table = loom::data::read_delimited(path, delimiter, mode & 2, mode & 4);
    for (const auto& row : table.rows)
      if (row.size() != (table.header.empty() ? table.rows[0].size() : table.header.size())) std::abort();
  });
}

bool fuzz_vocabulary(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("vocab.txt", data, size);
  return accepts([&] {
    const auto vocab = loom::data::Vocabulary::load(path);
    for (std::int64_t id = 0; id < vocab.size(); ++id)
      if (vocab.id(vocab.token(id)) != id) std::abort();  // the table maps both ways
  });
}

// A word run's spanish_case.txt against the word table it belongs to, then applied to a sentence.
bool fuzz_truecase(const std::uint8_t* data, std::size_t size) {
  static const loom::data::Vocabulary words({"<pad>", "<unk>", "<bos>", "<eos>", ".", "dios", "dijo", "señor", "é"});
  const std::string path = write_input("spanish_case.txt", data, size);
  return accepts([&] {
    const auto casing = loom::data::Truecaser::load(path, words);
    const auto out = casing.apply({"y", "dios", "dijo", ".", "señor", "é", "<unk>"});
    if (out.size() != 7 || loom::data::lowercase(out[1]) != "dios") std::abort();  // only case may change
  });
}

// The same bytes as each of the three sources (amazon, imdb, yelp).
bool fuzz_sentiment(const std::uint8_t* data, std::size_t size) {
  std::filesystem::create_directories(scratch_dir() + "/sentiment");
  for (const char* name : {"sentiment/amazon.tsv", "sentiment/imdb.tsv", "sentiment/yelp.tsv"})
    write_input(name, data, size);
  return accepts([&] {
    for (const auto& source : loom::data::load_sentiment(scratch_dir() + "/sentiment"))
      for (std::size_t i = 0; i < source.labels.size(); ++i)
        if (source.labels[i] < 0 || source.labels[i] > 1 || source.sentences[i].empty()) std::abort();
  });
}

bool fuzz_spam(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("spam.tsv", data, size);
  return accepts([&] {
    for (const auto& mail : loom::data::load_spam(path))
      if (mail.label < 0 || mail.label > 1 || mail.group.empty() ||
          loom::data::first_invalid_utf8(mail.text) != std::string::npos)
        std::abort();
  });
}

bool fuzz_daily_closes(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("closes.csv", data, size);
  return accepts([&] {
    for (double close : loom::data::read_daily_closes(path))
      if (!(close > 0.0) || !std::isfinite(close)) std::abort();
  });
}

bool fuzz_bible(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("web-es.tsv", data, size);
  return accepts([&] {
    const auto splits = loom::data::load_bible_pairs(path);
    for (const auto* split : {&splits.train, &splits.validation, &splits.test})
      for (const auto& pair : *split)
        if (pair.english.empty() || pair.spanish.empty()) std::abort();
  });
}

bool fuzz_cmudict(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("cmudict.dict", data, size);
  return accepts([&] {
    const auto dict = loom::data::load_cmudict(path);
    for (const auto* split : {&dict.train, &dict.validation, &dict.test})
      for (const auto& entry : *split)
        for (const auto& phone : entry.phones)
          if (entry.word.empty() || phone.empty()) std::abort();
  });
}

// Bytes 0-1: the length of the image file (big-endian), then the image file, then the label
// file; read as the fashion and caption tasks read Fashion-MNIST (28x28 pixels, 10 classes).
bool fuzz_labelled_idx(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return false;
  const std::size_t images_size = std::min<std::size_t>((std::size_t{data[0]} << 8) | data[1], size - 2);
  const std::string images = write_input("images.idx", data + 2, images_size);
  const std::string labels = write_input("labels.idx", data + 2 + images_size, size - 2 - images_size);
  return accepts([&] {
    const auto read = loom::data::read_idx_labelled(images, labels, 28, 28, 10);
    for (const auto label : read.labels.to_vector<std::int64_t>())
      if (label < 0 || label >= 10) std::abort();
  });
}

// charlm's text file: UTF-8 whatever it holds.
bool fuzz_utf8_text(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("text.txt", data, size);
  return accepts([&] {
    if (loom::data::first_invalid_utf8(loom::data::read_utf8_file("fuzz", path, 1 << 20)) != std::string::npos)
      std::abort();
  });
}

// `loom caption`'s input images.
bool fuzz_pgm(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("image.pgm", data, size);
  return accepts([&] {
    const auto image = loom::data::read_pgm(path);
    if (image.numel() > static_cast<std::int64_t>(size)) std::abort();  // a pixel per byte at least
    for (const double value : image.to_vector<double>())
      if (!(value >= 0.0 && value <= 1.0)) std::abort();
  });
}

// `loom transcribe`'s WAV files, through to their log-mel features (resampled to 16 kHz).
bool fuzz_wav(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("audio.wav", data, size);
  return accepts([&] {
    const auto audio = loom::data::read_wav(path);
    if (audio.samples.size() > size) std::abort();  // two bytes a sample at least
    for (const float sample : audio.samples)
      if (!(sample >= -1.0f && sample <= 1.0f)) std::abort();
    if (audio.samples.size() > 160000) return;  // ten seconds at 16 kHz: features cost time, not coverage
    const auto features = loom::data::log_mel(loom::data::resample(audio.samples, audio.sample_rate, 16000));
    for (const double value : features.to_vector<double>())
      if (!std::isfinite(value)) std::abort();
  });
}

// The speech task's utterance lists (train.tsv ...): every path stays inside the folder.
bool fuzz_spoken_digits(const std::uint8_t* data, std::size_t size) {
  write_input("part.tsv", data, size);
  return accepts([&] {
    const auto part = loom::data::load_spoken_digits(scratch_dir(), "part");
    for (const auto& file : part.files)
      if (file.find("..") != std::string::npos) std::abort();
    for (const auto& words : part.words)
      if (words.empty() || words.find_first_not_of(loom::data::spoken_digit_symbols()) != std::string::npos) std::abort();
  });
}

// A run folder's config.json, and the same bytes as a `loom train --config` file, which is held to
// the same rules and refuses keys it does not know as well.
bool fuzz_run_config(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("config.json", data, size);
  const bool accepted = accepts([&] { loom::tools::load_config(scratch_dir()); });
  if (accepts([&] { loom::tools::read_config_file(path); }) && !accepted) std::abort();
  return accepted;
}

#ifdef LOOM_FUZZ_SUBWORDS
// The translate task's SentencePiece models (english.model, spanish.model or subwords.model of a
// subword run folder), which `loom eval` and `loom translate` read back. A model that loads must take
// any text, characters it never saw included, and give ids the Seq2Seq's tables can hold.
bool fuzz_subwords(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_input("subwords.model", data, size);
  return accepts([&] {
    const auto model = loom::tools::SubwordModel::load(path);
    const auto ids = model.encode("¿Quién es mi prójimo? Love your neighbor. 你好");
    for (const auto id : ids)
      if (id < 0 || id >= model.size()) std::abort();
    model.decode(ids);
    model.pieces(ids);
  });
}
#endif

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", fuzz_safetensors}, {"checkpoint", fuzz_checkpoint}, {"metrics_log", fuzz_metrics_log},
      {"idx", fuzz_idx},                 {"delimited", fuzz_delimited},   {"vocabulary", fuzz_vocabulary},
      {"run_config", fuzz_run_config},   {"truecase", fuzz_truecase},
      {"sentiment", fuzz_sentiment},     {"spam", fuzz_spam},             {"daily_closes", fuzz_daily_closes},
      {"bible", fuzz_bible},             {"cmudict", fuzz_cmudict},       {"labelled_idx", fuzz_labelled_idx},
      {"utf8_text", fuzz_utf8_text},     {"pgm", fuzz_pgm},               {"wav", fuzz_wav},
      {"spoken_digits", fuzz_spoken_digits},
#ifdef LOOM_FUZZ_SUBWORDS
      {"subwords", fuzz_subwords},
#endif
  };
  return all;
}

const Target& target(const std::string& name) {
  for (const auto& t : targets())
    if (name == t.name) return t;
  throw std::invalid_argument("no fuzz target named " + name);
}

}  // namespace loom_fuzz
