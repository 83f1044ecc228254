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
