// SubwordModel (tools/subwords.h): the SentencePiece round trip encode -> decode = text on real
// verses and on text it never saw, deterministic training (the same model bytes twice), save and
// load, and clear errors for corrupt files and bad options.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "loom/errors.h"
#include "loom/serialization.h"
#include "subwords.h"
#include "test_util.h"

using loom::tools::SubwordModel;
using loom::tools::SubwordOptions;

namespace {

// Both sides of the 48 verse pairs of web-es-sample.tsv (reference TAB English TAB Spanish).
std::vector<std::string> sample_sentences() {
  std::ifstream in(std::string(LOOM_TESTS_DIR) + "/tools/data/web-es-sample.tsv");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find('\t'), second = line.find('\t', first + 1);
    out.push_back(line.substr(first + 1, second - first - 1));
    out.push_back(line.substr(second + 1));
  }
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Protobuf wire format, enough to write a SentencePiece ModelProto by hand.
std::string varint(std::uint64_t value) {
  std::string out;
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7F) | 0x80);
  return out + static_cast<char>(value);
}
std::string bytes_field(int number, const std::string& bytes) { return varint(number << 3 | 2) + varint(bytes.size()) + bytes; }
std::string varint_field(int number, std::uint64_t value) { return varint(number << 3) + varint(value); }
std::string float_field(int number, float value) {
  std::string out = varint(number << 3 | 5);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
  return out;
}
// A SentencePiece message: piece, score, type (1 normal, 2 unknown, 3 control).
std::string piece(const std::string& text, int type, float score = 0.0f) {
  return bytes_field(1, bytes_field(1, text) + float_field(2, score) + varint_field(3, type));
}
// A model of the four specials and the given pieces, and a normaliser with this character map.
std::string model_proto(const std::vector<std::string>& pieces, const std::string& character_map = "") {
  std::string out = piece("<pad>", 3) + piece("<unk>", 2) + piece("<s>", 3) + piece("</s>", 3);
  for (const auto& text : pieces) out += piece(text, 1, -1.0f);
  return out + bytes_field(3, bytes_field(1, "custom") + bytes_field(2, character_map));
}
// A character map: the trie's size, its units, then the strings.
std::string character_map(const std::vector<std::uint32_t>& units, const std::string& strings) {
  const std::uint32_t trie_bytes = static_cast<std::uint32_t>(units.size() * 4);
  std::string out(reinterpret_cast<const char*>(&trie_bytes), 4);
  out.append(reinterpret_cast<const char*>(units.data()), units.size() * 4);
  return out + strings;
}

// A unit no byte leads into (its label has bit 31, as darts-clone's value units), for the free
// slots: darts-clone gives those labels that no byte matches too.
constexpr std::uint32_t unused_unit = 1U << 31;

// A trie whose root leads by 'a' through `leaves` nodes in a row, each with a leaf (string 0):
// node i sits at 256 i + 'a' in block i, its children and leaf in block i + 1.
std::vector<std::uint32_t> leaf_chain(std::uint32_t leaves) {
  std::vector<std::uint32_t> units(256 * (leaves + 2), unused_unit);
  units[0] = 256U << 10;
  for (std::uint32_t i = 1; i <= leaves; ++i) {
    const std::uint32_t node = 256 * i + 'a', base = 256 * (i + 1);
    units[node] = 'a' | (1U << 8) | ((node ^ base) << 10);
    units[base] = 1U << 31;  // the leaf: string 0
  }
  return units;
}

}  // namespace

TEST_CASE("subwords: encode -> decode gives the text back, for training verses and unseen characters alike") {
  const auto sentences = sample_sentences();
  REQUIRE(sentences.size() == 96);
  const std::vector<std::string> unseen{"¿Quién es mi prójimo? «Ñandú» y 你好, 3.5 km.", "Zebra-crossing: x^2 ~ y!"};
  for (const std::string type : {"unigram", "bpe"}) {
    CAPTURE(type);
    const auto model = SubwordModel::train(sentences, SubwordOptions().vocab_size(500).type(type));
    CHECK(model.size() == 500);
    std::size_t pieces = 0, characters = 0;
    for (const auto& text : sentences) {
      const auto ids = model.encode(text);
      CHECK(model.decode(ids) == text);
      pieces += ids.size();
      characters += text.size();
    }
    CHECK(pieces < characters / 2);  // subwords, not characters: 244 pieces above the bytes and specials
    for (const auto& text : unseen) {
      CAPTURE(text);
      const auto ids = model.encode(text);
      CHECK(std::find(ids.begin(), ids.end(), 1) == ids.end());  // byte pieces, never <unk>
      CHECK(model.decode(ids) == text);
    }
    // The specials are no text: a stray <unk>, <bos> or <eos> in a decoder's output leaves nothing.
    auto ids = model.encode("Dios");
    ids.insert(ids.begin(), {2, 1});
    ids.push_back(3);
    CHECK(model.decode(ids) == "Dios");
    CHECK(model.pieces(model.encode("Dios")).front().rfind("\xE2\x96\x81", 0) == 0);  // "▁" starts a word
    CHECK_THROWS_AS(model.decode({500}), loom::IndexError);
  }
}

TEST_CASE("subwords: training twice gives the same model bytes; a saved model loads and encodes alike") {
  loom_test::TempDir dir;
  const auto sentences = sample_sentences();
  const auto options = SubwordOptions().vocab_size(400);
  SubwordModel::train(sentences, options).save(dir.path + "/a.model");
  const auto model = SubwordModel::train(sentences, options);
  model.save(dir.path + "/b.model");
  CHECK(read_bytes(dir.path + "/a.model") == read_bytes(dir.path + "/b.model"));
  const auto loaded = SubwordModel::load(dir.path + "/a.model");
  CHECK(loaded.size() == 400);
  for (const auto& text : sentences) CHECK(loaded.encode(text) == model.encode(text));
}

TEST_CASE("subwords: corrupt or missing model files and bad options are clear errors") {
  loom_test::TempDir dir;
  const auto sentences = sample_sentences();
  SubwordModel::train(sentences, SubwordOptions().vocab_size(400)).save(dir.path + "/good.model");
  const std::string good = read_bytes(dir.path + "/good.model");
  loom::write_file_atomically(dir.path + "/garbage.model", "not a model at all \x01\x02\xff");
  CHECK(loom_test::message_of<loom::IOError>([&] { SubwordModel::load(dir.path + "/garbage.model"); })
            .find("garbage.model is not a SentencePiece model") != std::string::npos);
  loom::write_file_atomically(dir.path + "/truncated.model", good.substr(0, good.size() / 2));
  CHECK(loom_test::message_of<loom::IOError>([&] { SubwordModel::load(dir.path + "/truncated.model"); })
            .find("truncated.model is not a SentencePiece model") != std::string::npos);
  CHECK(loom_test::message_of<loom::IOError>([&] { SubwordModel::load(dir.path + "/missing.model"); })
            .find("cannot open") != std::string::npos);
  // Too few pieces for the 256 bytes and the characters of the text.
  CHECK(loom_test::message_of<loom::ValueError>([&] { SubwordModel::train(sentences, SubwordOptions().vocab_size(100)); })
            .find("training a unigram model of 100 pieces failed") != std::string::npos);
  CHECK(loom_test::message_of<loom::ValueError>([&] { SubwordModel::train(sentences, SubwordOptions().type("word")); })
            .find("unigram or bpe, got 'word'") != std::string::npos);
  CHECK_THROWS_AS(SubwordModel::train({}, SubwordOptions()), loom::ValueError);
}

TEST_CASE("subwords: a model file SentencePiece would crash on or read out of bounds is refused first") {
  loom_test::TempDir dir;
  const auto load_message = [&](const std::string& bytes) {
    loom::write_file_atomically(dir.path + "/m.model", bytes);
    return loom_test::message_of<loom::IOError>([&] { SubwordModel::load(dir.path + "/m.model"); });
  };
  // The hand-written model is one SentencePiece takes, so each error below is the one planted.
  loom::write_file_atomically(dir.path + "/ok.model", model_proto({"\xE2\x96\x81" "a", "b"}));
  CHECK(SubwordModel::load(dir.path + "/ok.model").size() == 6);
  // An empty piece or a NUL byte in one: SentencePiece's trie builder throws through noexcept,
  // ending the process (tests/fuzz/regressions/subwords).
  CHECK(load_message(model_proto({"a", ""})).find("m.model is not a SentencePiece model (piece 5 is empty)") !=
        std::string::npos);
  CHECK(load_message(model_proto({"a", std::string("?\0", 2)})).find("piece 5 holds a NUL byte") != std::string::npos);
  CHECK(load_message(model_proto({"a", "a"})).find("piece 5 ('a') comes twice") != std::string::npos);
  CHECK(load_message(model_proto({"a"}) + piece("z", 9)).find("piece 5 has type 9, expected 1 to 6") !=
        std::string::npos);
  // Tries recurse once per byte of a piece; user-defined pieces (type 4) match into 64 results.
  CHECK(load_message(model_proto({"a", std::string(257, 'b')})).find("piece 5 has 257 bytes, expected at most 256") !=
        std::string::npos);
  CHECK(load_message(model_proto({"a"}) + piece(std::string(65, 'u'), 4)).find("expected at most 64") !=
        std::string::npos);
  // Self-test samples (field 4) are encoded as the model loads.
  CHECK(load_message(model_proto({"a"}) + bytes_field(4, bytes_field(1, bytes_field(1, "a") + bytes_field(2, "a"))))
            .find("self-test samples") != std::string::npos);
  CHECK(load_message(model_proto({"a"}).substr(0, 40)).find("claims") != std::string::npos);
  // Character maps: a trie larger than the map, strings without their NUL, a root whose children
  // lie past the array (offset 512 from a 256-unit trie), a leaf pointing past the strings.
  CHECK(load_message(model_proto({"a"}, std::string("\x40\0\0\0xy", 6))).find("holds a trie of 64 bytes") !=
        std::string::npos);
  const std::vector<std::uint32_t> empty_trie(256, unused_unit);
  CHECK(load_message(model_proto({"a"}, character_map(empty_trie, "x"))).find("do not end in NUL") !=
        std::string::npos);
  auto far_root = empty_trie;
  far_root[0] = 512U << 10;
  CHECK(load_message(model_proto({"a"}, character_map(far_root, std::string("x\0", 2))))
            .find("trie node 0 points past its 256 units") != std::string::npos);
  // Root offset 1: its child 'a' sits at 1 ^ 'a'; that child has a leaf (bit 8) at offset 2, whose
  // unit's value 99 points past 2 bytes of strings.
  auto far_leaf = empty_trie;
  far_leaf[0] = 1U << 10;
  far_leaf[1 ^ 'a'] = 'a' | (1U << 8) | (2U << 10);
  far_leaf[1 ^ 'a' ^ 2] = 99 | (1U << 31);
  CHECK(load_message(model_proto({"a"}, character_map(far_leaf, std::string("x\0", 2))))
            .find("leaf points past its 2 bytes of strings") != std::string::npos);
  // A cycle back to the root (its leaf is fine): the search would go round for as long as the input.
  auto cycle = empty_trie;
  cycle[0] = 'a' | (1U << 8) | (0x61U << 10);
  cycle[0x61] = 1U << 31;
  CHECK(load_message(model_proto({"a"}, character_map(cycle, std::string("x\0", 2)))).find("has a cycle") !=
        std::string::npos);
  // NormalizePrefix keeps 32 matches: a chain of 33 leaves ("a", "aa", ...) overruns them, 32 do not.
  CHECK(load_message(model_proto({"a"}, character_map(leaf_chain(33), std::string("x\0", 2))))
            .find("a path of 33 leaves, expected at most 32") != std::string::npos);
  loom::write_file_atomically(dir.path + "/chain.model", model_proto({"x"}, character_map(leaf_chain(32), std::string("x\0", 2))));
  CHECK(SubwordModel::load(dir.path + "/chain.model").encode(std::string(40, 'a')).size() > 0);
  // The denormaliser's map (field 5) is checked as the normaliser's.
  CHECK(load_message(model_proto({"a"}) + bytes_field(5, bytes_field(2, character_map(cycle, std::string("x\0", 2)))))
            .find("has a cycle") != std::string::npos);
  // The same trie with the leaf at string 0 passes the check, and SentencePiece then normalises
  // "a" to "x" with it.
  far_leaf[1 ^ 'a' ^ 2] = 0 | (1U << 31);
  loom::write_file_atomically(dir.path + "/map.model", model_proto({"x", "\xE2\x96\x81x"}, character_map(far_leaf, std::string("x\0", 2))));
  const auto mapped = SubwordModel::load(dir.path + "/map.model");
  CHECK(mapped.decode(mapped.encode("a")) == "x");
}
