#include "subwords.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "loom/data/files.h"
#include "loom/errors.h"
#include "loom/io.h"

namespace loom::tools {

namespace {

// A model of 64,000 pieces is about 1.5 MB; anything far past that is not one of ours.
constexpr std::uint64_t kMaxModelBytes = 64 << 20;

class SentenceList : public sentencepiece::SentenceIterator {
 public:
  explicit SentenceList(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return next_ >= sentences_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return sentences_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  std::size_t next_ = 0;
};

}  // namespace

SubwordModel::SubwordModel(std::string serialized, const std::string& origin) : serialized_(std::move(serialized)) {
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->LoadFromSerializedProto(serialized_);
  if (!status.ok())
    throw IOError(fmt::format("subwords: {} is not a SentencePiece model ({})", origin, status.ToString()));
  if (processor->GetPieceSize() < 4 || processor->pad_id() != 0 || processor->unk_id() != 1 ||
      processor->bos_id() != 2 || processor->eos_id() != 3)
    throw IOError(fmt::format("subwords: {} is a SentencePiece model without <pad>, <unk>, <bos>, <eos> at ids 0-3 "
                              "(pad {}, unk {}, bos {}, eos {} of {} pieces)",
                              origin, processor->pad_id(), processor->unk_id(), processor->bos_id(),
                              processor->eos_id(), processor->GetPieceSize()));
  processor_ = std::move(processor);
}

SubwordModel SubwordModel::train(const std::vector<std::string>& sentences, const SubwordOptions& options) {
  if (options.type() != "unigram" && options.type() != "bpe")
    throw ValueError(fmt::format("subwords: the model type must be unigram or bpe, got '{}'", options.type()));
  if (sentences.empty()) throw ValueError("subwords: expected training sentences, got none");
  SentenceList input(sentences);
  std::string serialized;
  // One thread and every sentence in its order (no sampling, no shuffling): the same bytes each time.
  const std::unordered_map<std::string, std::string> spec{
      {"vocab_size", std::to_string(options.vocab_size())},
      {"model_type", options.type()},
      {"pad_id", "0"}, {"unk_id", "1"}, {"bos_id", "2"}, {"eos_id", "3"},
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "1"}};  // its progress log would flood the run's stderr
  const auto status = sentencepiece::SentencePieceTrainer::Train(spec, &input, &serialized);
  if (!status.ok())
    throw ValueError(fmt::format("subwords: training a {} model of {} pieces failed: {}", options.type(),
                                 options.vocab_size(), status.error_message()));
  return SubwordModel(std::move(serialized), "the trained model");
}

SubwordModel SubwordModel::load(const std::string& path) {
  return SubwordModel(data::read_text_file("subwords", path, kMaxModelBytes), path);
}

void SubwordModel::save(const std::string& path) const { write_file_atomically(path, serialized_); }

std::vector<std::int64_t> SubwordModel::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw ValueError(fmt::format("subwords: cannot encode '{}': {}", text, status.ToString()));
  return {ids.begin(), ids.end()};
}

std::string SubwordModel::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int> kept;
  for (auto id : ids) {
    check_id(id);
    if (id > 3) kept.push_back(static_cast<int>(id));  // the specials are no text
  }
  std::string text;
  const auto status = processor_->Decode(kept, &text);
  if (!status.ok()) throw ValueError(fmt::format("subwords: cannot decode: {}", status.ToString()));
  return text;
}

std::vector<std::string> SubwordModel::pieces(const std::vector<std::int64_t>& ids) const {
  std::vector<std::string> out;
  for (auto id : ids) {
    check_id(id);
    out.push_back(processor_->IdToPiece(static_cast<int>(id)));
  }
  return out;
}

std::int64_t SubwordModel::size() const { return processor_->GetPieceSize(); }

void SubwordModel::check_id(std::int64_t id) const {
  if (id < 0 || id >= size())
    throw IndexError(fmt::format("subwords: expected piece ids in [0, {}), got {}", size(), id));
}

}  // namespace loom::tools
