#include "subwords.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cmath>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "loom/data/files.h"
#include "loom/errors.h"
#include "loom/io.h"

namespace loom::tools {

namespace {

// A model of 64,000 pieces is about 1.5 MB; anything far past that is not one of ours.
constexpr std::uint64_t kMaxModelBytes = 16 << 20;

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

// SentencePiece (Debian's 0.1.97) trusts its model file, and tests/fuzz found a piece holding a
// NUL byte ends the process: darts-clone reads pieces as C strings and throws on the empty key
// through a noexcept frame (std::terminate). Its sources show more: pieces are inserted into tries
// by a recursion per byte; a normaliser's character map is a darts-clone array walked by offsets
// read from the file, into a 32-entry result buffer; user-defined pieces match into a 64-entry one;
// and self-test samples are encoded at load. So the file's protobuf is read here first, and what
// SentencePiece builds from or indexes by is checked. Wire format: each field is a varint key
// (field number << 3 | type), then a varint (type 0), 8 bytes (1), a varint length and that many
// bytes (2) or 4 bytes (5).
class ProtobufFields {
 public:
  ProtobufFields(std::string_view bytes, const std::string& origin) : rest_(bytes), origin_(origin) {}
  struct Field {
    std::uint64_t number = 0;
    std::uint64_t type = 0;
    std::uint64_t varint = 0;  // type 0
    std::string_view bytes;    // types 1, 2 and 5
  };
  bool done() const { return rest_.empty(); }
  Field next() {
    Field field;
    const auto key = varint();
    field.number = key >> 3;
    field.type = key & 7;
    if (field.type != 0 && field.type != 1 && field.type != 2 && field.type != 5)
      fail(fmt::format("field {} has wire type {}, expected 0, 1, 2 or 5", field.number, field.type));
    if (field.type == 0) {
      field.varint = varint();
    } else {
      const std::uint64_t length = field.type == 1 ? 8 : field.type == 5 ? 4 : varint();
      if (length > rest_.size())
        fail(fmt::format("field {} claims {} bytes, {} are left", field.number, length, rest_.size()));
      field.bytes = rest_.substr(0, length);
      rest_.remove_prefix(length);
    }
    return field;
  }
  const std::string& origin() const { return origin_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw IOError(fmt::format("subwords: {} is not a SentencePiece model ({})", origin_, what));
  }

 private:
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) fail("a number runs past the end");
      const auto byte = static_cast<std::uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    fail("a number of more than 10 bytes");
  }
  std::string_view rest_;
  const std::string& origin_;
};

// Loom's pieces are at most 16 characters; SentencePiece's tries recurse once per byte of a piece.
constexpr std::size_t kMaxPieceBytes = 256;
// A user-defined piece matches by prefix into 64 results: 64 bytes keeps any chain of prefixes shorter.
constexpr std::size_t kMaxUserDefinedPieceBytes = 64;
// The normaliser's 32 results (NormalizePrefix) bound the leaves on any path of its trie.
constexpr std::uint32_t kMaxLeavesOnPath = 32;
// NFKC's character map is 238 KB; the walk below costs 256 probes a unit.
constexpr std::uint32_t kMaxTrieBytes = 4 << 20;

// A SentencePiece message (ModelProto field 1): piece (1) non-empty, without NUL, at most
// kMaxPieceBytes (kMaxUserDefinedPieceBytes for type 4) and unique; score (2) finite; type (3) one
// of NORMAL 1 ... BYTE 6.
void check_piece(std::string_view message, std::int64_t index, std::unordered_set<std::string_view>& seen,
                 const ProtobufFields& model) {
  ProtobufFields parts(message, model.origin());
  std::string_view piece;
  std::uint64_t type = 1;
  while (!parts.done()) {
    const auto part = parts.next();
    if (part.number == 1 && part.type == 2) piece = part.bytes;
    if (part.number == 2 && part.type == 5) {
      float score;
      std::memcpy(&score, part.bytes.data(), sizeof score);
      if (!std::isfinite(score)) model.fail(fmt::format("piece {} has score {}", index, score));
    }
    if (part.number == 3) {
      if (part.type != 0) model.fail(fmt::format("piece {}'s type is not a number", index));
      type = part.varint;
    }
  }
  if (type < 1 || type > 6) model.fail(fmt::format("piece {} has type {}, expected 1 to 6", index, type));
  if (piece.empty()) model.fail(fmt::format("piece {} is empty", index));
  if (piece.find('\0') != std::string_view::npos) model.fail(fmt::format("piece {} holds a NUL byte", index));
  const std::size_t longest = type == 4 ? kMaxUserDefinedPieceBytes : kMaxPieceBytes;
  if (piece.size() > longest)
    model.fail(fmt::format("piece {} has {} bytes, expected at most {}", index, piece.size(), longest));
  if (!seen.insert(piece).second) model.fail(fmt::format("piece {} ('{}') comes twice", index, piece));
}

// A normaliser's precompiled character map (NormalizerSpec field 2): a little-endian uint32 size of
// a darts-clone double-array trie, the trie's 4-byte units, then the replacement strings, NUL-ended,
// that its leaves point into. Walked depth first from the root, as SentencePiece's prefix search
// goes: every node must keep its 256 child slots inside the array and its leaf's string inside the
// strings; the graph must have no cycle (a DAG, as darts-clone builds: children may be shared), and
// no path more than kMaxLeavesOnPath leaves.
void check_character_map(std::string_view map, const ProtobufFields& fields) {
  std::uint32_t trie_bytes = 0;
  if (map.size() >= sizeof trie_bytes) std::memcpy(&trie_bytes, map.data(), sizeof trie_bytes);
  if (map.size() < sizeof trie_bytes || trie_bytes == 0 || trie_bytes % 4 != 0 || trie_bytes > kMaxTrieBytes ||
      trie_bytes > map.size() - sizeof trie_bytes)
    fields.fail(fmt::format("a character map of {} bytes holds a trie of {} bytes", map.size(), trie_bytes));
  const std::string_view strings = map.substr(sizeof trie_bytes + trie_bytes);
  if (strings.empty() || strings.back() != '\0') fields.fail("a character map's strings do not end in NUL");
  std::vector<std::uint32_t> units(trie_bytes / 4);  // copied: the map's bytes may be unaligned
  std::memcpy(units.data(), map.data() + sizeof trie_bytes, trie_bytes);
  const auto offset = [](std::uint32_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); };
  const auto label = [](std::uint32_t unit) { return unit & ((1U << 31) | 0xFF); };
  const auto has_leaf = [](std::uint32_t unit) { return (unit >> 8) & 1; };
  const auto enter = [&](std::size_t node) {  // what a search reaching `node` reads
    const std::size_t base = node ^ offset(units[node]);
    if ((base | 0xFF) >= units.size())
      fields.fail(fmt::format("a character map's trie node {} points past its {} units", node, units.size()));
    if (has_leaf(units[node]) && (units[base] & 0x7FFFFFFF) >= strings.size())
      fields.fail(fmt::format("a character map's leaf points past its {} bytes of strings", strings.size()));
    return base;
  };
  enum : std::uint8_t { unseen, on_path, done };
  std::vector<std::uint8_t> state(units.size(), unseen);
  std::vector<std::uint32_t> leaves_below(units.size(), 0);  // most leaves on a path from the node down
  struct Step {
    std::size_t node, base;
    std::uint32_t next_byte, most_below;
  };
  std::vector<Step> path{{0, enter(0), 0, 0}};
  state[0] = on_path;
  while (!path.empty()) {
    Step& step = path.back();
    if (step.next_byte < 256) {
      const std::uint32_t byte = step.next_byte++;
      const std::size_t child = step.base ^ byte;
      if (label(units[child]) != byte) continue;
      if (state[child] == on_path) fields.fail("a character map's trie has a cycle");
      if (state[child] == done) {
        step.most_below = std::max(step.most_below, leaves_below[child]);
        continue;
      }
      state[child] = on_path;
      path.push_back({child, enter(child), 0, 0});  // `step` is not used past this
      continue;
    }
    const std::uint32_t leaves = step.most_below + has_leaf(units[step.node]);
    if (leaves > kMaxLeavesOnPath)
      fields.fail(fmt::format("a character map's trie has a path of {} leaves, expected at most {}", leaves,
                              kMaxLeavesOnPath));
    leaves_below[step.node] = leaves;
    state[step.node] = done;
    path.pop_back();
    if (!path.empty()) path.back().most_below = std::max(path.back().most_below, leaves);
  }
}

// The model in one pass: its pieces (field 1), no self-test samples (field 4; Loom's models have
// none), and the character maps of its normaliser and denormaliser (fields 3 and 5).
void check_model(std::string_view model, const std::string& origin) {
  ProtobufFields fields(model, origin);
  std::unordered_set<std::string_view> seen;
  for (std::int64_t pieces = 0; !fields.done();) {
    const auto field = fields.next();
    if (field.number == 1) {
      if (field.type != 2) fields.fail(fmt::format("piece {} is not a message", pieces));
      check_piece(field.bytes, pieces++, seen, fields);
    } else if (field.number == 4 && !field.bytes.empty()) {
      fields.fail("it holds self-test samples, which SentencePiece encodes at load");
    } else if ((field.number == 3 || field.number == 5) && field.type == 2) {
      ProtobufFields spec(field.bytes, origin);
      while (!spec.done()) {
        const auto part = spec.next();
        if (part.number == 2 && part.type == 2 && !part.bytes.empty()) check_character_map(part.bytes, spec);
      }
    }
  }
}

}  // namespace

SubwordModel::SubwordModel(std::string serialized, const std::string& origin) : serialized_(std::move(serialized)) {
  check_model(serialized_, origin);
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
