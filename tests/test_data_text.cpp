// Vocabularies, tokenizers and truecasing: build order, encode/decode, save/load round trips, bad files.
#include <loom/data/tokenizer.h>
#include <loom/data/truecase.h>
#include <loom/data/vocabulary.h>

#include <fmt/format.h>

#include <fstream>

#include "test_util.h"

using loom::data::Vocabulary;
using loom::data::VocabularyOptions;
using Tokens = std::vector<std::string>;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string io_error_of(const std::string& path) {
  try {
    Vocabulary::load(path);
  } catch (const loom::IOError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a vocabulary orders tokens by frequency, ties alphabetically, after the specials") {
  const std::vector<Tokens> corpus = {{"b", "a", "c", "a"}, {"c", "d", "a", "e"}, {"b"}};
  // counts: a 3, b 2, c 2, d 1, e 1
  auto vocab = Vocabulary::build(corpus);
  CHECK(vocab.tokens() == Tokens{"<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "d", "e"});
  CHECK(vocab.size() == 9);
  CHECK(vocab.id("a") == 4);
  CHECK(vocab.id("zzz") == Vocabulary::unk_id);
  CHECK_FALSE(vocab.contains("zzz"));
  CHECK(vocab.token(6) == "c");

  auto frequent = Vocabulary::build(corpus, VocabularyOptions().min_frequency(2));
  CHECK(frequent.tokens() == Tokens{"<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"});
  auto small = Vocabulary::build(corpus, VocabularyOptions().max_size(6));
  CHECK(small.tokens() == Tokens{"<pad>", "<unk>", "<bos>", "<eos>", "a", "b"});
  // A literal special in the text is not counted twice.
  CHECK(Vocabulary::build({{"<unk>", "x"}}).size() == 5);
}

TEST_CASE("encode and decode map unknown tokens to <unk> and drop specials on request") {
  auto vocab = Vocabulary::build({{"the", "cat", "the"}});
  const auto ids = vocab.encode({"the", "dog", "cat"}, true);
  CHECK(ids == std::vector<std::int64_t>{2, 4, 1, 5, 3});
  CHECK(vocab.decode(ids) == Tokens{"the", "cat"});
  CHECK(vocab.decode(ids, true) == Tokens{"<bos>", "the", "<unk>", "cat", "<eos>"});
  CHECK_THROWS_AS(vocab.decode({7}), loom::IndexError);
  CHECK_THROWS_AS(vocab.token(-1), loom::IndexError);
}

TEST_CASE("bad vocabulary options and tables are ValueErrors") {
  CHECK_THROWS_AS(Vocabulary::build({}, VocabularyOptions().min_frequency(0)), loom::ValueError);
  CHECK_THROWS_AS(Vocabulary::build({}, VocabularyOptions().max_size(3)), loom::ValueError);
  CHECK_THROWS_AS(Vocabulary(Tokens{"<pad>", "<unk>"}), loom::ValueError);
  CHECK_THROWS_AS(Vocabulary(Tokens{"<pad>", "<unk>", "<bos>", "<eos>", "a", "a"}), loom::ValueError);
}

TEST_CASE("word and character vocabularies round-trip through save and load") {
  loom_test::TempDir dir;
  auto words = Vocabulary::build({loom::data::tokenize("Don't panic: it's 42, très bien!")});
  words.save(dir.path + "/words.txt");
  CHECK(Vocabulary::load(dir.path + "/words.txt").tokens() == words.tokens());

  // Newlines, carriage returns and backslashes are characters too.
  auto chars = Vocabulary::build({loom::data::characters("a\\b\nc\r\nd é 日本")});
  chars.save(dir.path + "/chars.txt");
  auto loaded = Vocabulary::load(dir.path + "/chars.txt");
  CHECK(loaded.tokens() == chars.tokens());
  CHECK(loaded.contains("\n"));
  CHECK(loaded.contains("\\"));
  CHECK(loaded.contains("日"));
}

TEST_CASE("loading a malformed vocabulary file is an IOError naming the problem") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/v.txt";
  CHECK(io_error_of(dir.path + "/missing.txt").find("cannot open") != std::string::npos);
  write_bytes(path, "<pad>\n<unk>\n<bos>\n");
  CHECK(io_error_of(path).find("'<eos>'") != std::string::npos);
  write_bytes(path, "<pad>\n<unk>\n<bos>\n<eos>\na\na\n");
  CHECK(io_error_of(path).find("appears twice") != std::string::npos);
  write_bytes(path, "<pad>\n<unk>\n<bos>\n<eos>\na");
  CHECK(io_error_of(path).find("truncated") != std::string::npos);
  write_bytes(path, "<pad>\n<unk>\n<bos>\n<eos>\na\\x\n");
  CHECK(io_error_of(path).find(":5:") != std::string::npos);
  write_bytes(path, "<pad>\r\n<unk>\r\n<bos>\r\n<eos>\r\n");
  CHECK(io_error_of(path).find(":1: expected no raw carriage return") != std::string::npos);
  write_bytes(path, "<pad>\n<unk>\n<bos>\n<eos>\n\xff\n");
  CHECK(io_error_of(path).find("UTF-8") != std::string::npos);
}

TEST_CASE("tokenize splits words, numbers and punctuation") {
  using loom::data::tokenize;
  using loom::data::TokenizeOptions;
  CHECK(tokenize("Don't buy it, 10/10!") == Tokens{"don't", "buy", "it", ",", "10", "/", "10", "!"});
  CHECK(tokenize("Great phone!!  Costs $3.50, or 1,000 yen.") ==
        Tokens{"great", "phone", "!", "!", "costs", "$", "3.50", ",", "or", "1,000", "yen", "."});
  CHECK(tokenize("'quoted' slow-moving rock'n'roll") ==
        Tokens{"'", "quoted", "'", "slow", "-", "moving", "rock'n'roll"});
  CHECK(tokenize("I’m “fine”…") == Tokens{"i’m", "“", "fine", "”", "…"});
  // Latin-1 capitals are lower-cased too (Spanish, French...); × and other scripts are kept.
  CHECK(tokenize("Café au lait\tÉté") == Tokens{"café", "au", "lait", "été"});
  CHECK(tokenize("ÁÉÍÓÚ ÑANDÚ ÀÞ Ü 2×3 ΑΒ") == Tokens{"áéíóú", "ñandú", "àþ", "ü", "2×3", "ΑΒ"});
  CHECK(tokenize("ß ÿ") == Tokens{"ß", "ÿ"});  // small letters without a Latin-1 capital stay
  CHECK(tokenize("Keep CASE, here.", TokenizeOptions().lowercase(false)) ==
        Tokens{"Keep", "CASE", ",", "here", "."});
  CHECK(tokenize("No split, here.", TokenizeOptions().split_punctuation(false)) ==
        Tokens{"no", "split,", "here."});
  CHECK(tokenize("  \n ").empty());
  CHECK_THROWS_AS(tokenize("bad \xc3"), loom::ValueError);
}

TEST_CASE("characters splits UTF-8 into code points and rejects invalid bytes") {
  using loom::data::characters;
  CHECK(characters("aé日😀") == Tokens{"a", "é", "日", "😀"});
  CHECK(characters("").empty());
  CHECK_THROWS_AS(characters("\xc0\xaf"), loom::ValueError);      // overlong '/'
  CHECK_THROWS_AS(characters("\xed\xa0\x80"), loom::ValueError);  // a surrogate
  try {
    characters("ab\xff");
  } catch (const loom::ValueError& e) {
    CHECK(std::string(e.what()).find("offset 2") != std::string::npos);
  }
}

TEST_CASE("lowercase makes ASCII and Latin-1 capitals small and leaves the rest, invalid bytes included") {
  using loom::data::lowercase;
  CHECK(lowercase("ÁÉÍÓÚ Ñandú ÀÞ Ü 2×3 ΑΒ ß") == "áéíóú ñandú àþ ü 2×3 ΑΒ ß");
  CHECK(lowercase("A\xc3") == "a\xc3");  // a lead byte at the end: nothing to read past
  CHECK(lowercase("\xc3\x97") == "\xc3\x97");  // ×
}

TEST_CASE("a truecaser learns each word's commonest form away from sentence starts and capitalises sentences") {
  using loom::data::Truecaser;
  const std::vector<std::string> texts = {
      "Y dijo Dios: sea la luz. Y fue la luz.",  // each "Y" opens a sentence: not counted
      "Entonces dijo Jesús a Dios: ¿Quién es?",
      "y la luz de Jesús.",
      "El SEÑOR es luz; el Señor, el Señor.",  // "Señor" twice, "SEÑOR" once
      "Sea."};  // at a sentence start only: "sea" stays small
  std::vector<Tokens> lowered;
  for (const auto& t : texts) lowered.push_back(loom::data::tokenize(t));
  const auto words = Vocabulary::build(lowered);
  const auto casing = Truecaser::learn(words, texts);
  CHECK(casing.apply({"y", "dios", "dijo", ":", "sea", "la", "luz", ".", "¿", "quién", "es", "?", "el", "señor", "y",
                      "jesús", "."}) ==
        Tokens{"Y", "Dios", "dijo", ":", "sea", "la", "luz", ".", "¿", "Quién", "es", "?", "El", "Señor", "y", "Jesús",
               "."});
  // A word never seen inside a sentence stays small; a sentence start is capitalised whatever it is.
  CHECK(casing.apply({"entonces", "dijo", ".", "é", "luz", ".", "<unk>", "luz"}) ==
        Tokens{"Entonces", "dijo", ".", "É", "luz", ".", "<unk>", "luz"});
  CHECK(casing.apply({}).empty());

  loom_test::TempDir dir;
  const std::string path = dir.path + "/case.txt";
  casing.save(path, words);
  CHECK(Truecaser::load(path, words).apply({"el", "señor", "y", "dios"}) == Tokens{"El", "Señor", "y", "Dios"});
  const auto error_of = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return loom_test::message_of<loom::IOError>([&] { Truecaser::load(path, words); });
  };
  std::string lines = "<pad>\n<unk>\n<bos>\n<eos>\n";
  for (std::int64_t id = 4; id < words.size(); ++id) lines += words.token(id) + "\n";
  write_bytes(path, lines);
  CHECK_NOTHROW(Truecaser::load(path, words));  // the lower-case forms themselves are a casing
  CHECK(error_of("<pad>\n<unk>\n<bos>\n<eos>\nluz\n") ==
        fmt::format("Truecaser::load: {}: expected {} forms, one per word of the table, got 5", path, words.size()));
  const std::string wrong = "<pad>\n<unk>\n<bos>\n<eos>\nLuces\n" + lines.substr(lines.find('\n', 24) + 1);
  CHECK(error_of(wrong).find(fmt::format("{}:5: expected a casing of '{}', got 'Luces'", path, words.token(4))) !=
        std::string::npos);
  CHECK(error_of("<pad>\n<unk>\n").find("Vocabulary::load") != std::string::npos);
}
