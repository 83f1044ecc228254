#pragma once
/// Restoring the case of lower-cased words (truecasing, as Moses' truecaser): a word-level
/// model reads and writes `tokenize`'s lower-cased words, but BLEU 13a and a reader compare
/// against cased text. Each word takes its commonest written form away from a sentence's start
/// ("dios" -> "Dios", "jesús" -> "Jesús"), and a sentence's first word is capitalised.
///
///     auto casing = loom::data::Truecaser::learn(spanish_words, training_texts);
///     casing.apply({"y", "dios", "dijo", ":", "sea", "la", "luz", "."});  // {"Y", "Dios", "dijo", ...}
///     casing.save(run_dir + "/spanish_case.txt", spanish_words);  // one form per id
///     auto same = loom::data::Truecaser::load(run_dir + "/spanish_case.txt", spanish_words);
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/data/vocabulary.h"

namespace loom::data {

class Truecaser {
 public:
  /// Counts the written forms of `words`' tokens in `texts` (raw, cased text), leaving out each
  /// sentence's first word, whose capital says nothing. A word seen only there, or not at all,
  /// stays lower case; a tie goes to the lower-case form.
  static Truecaser learn(const Vocabulary& words, const std::vector<std::string>& texts);

  /// The tokens in their learned forms, each sentence's first word capitalised (a sentence
  /// starts the text and follows ".", "?" or "!"; opening marks before its word are skipped).
  /// Capitals are made for ASCII and Latin-1 letters.
  std::vector<std::string> apply(const std::vector<std::string>& tokens) const;

  /// Writes the form of every id of `words`, in id order, as a Vocabulary file (atomically).
  void save(const std::string& path, const Vocabulary& words) const;
  /// Reads a file written by save for the same `words`; IOError naming the file and line when a
  /// line is not a casing of that id's word, or the file is not a vocabulary of the same size.
  static Truecaser load(const std::string& path, const Vocabulary& words);

 private:
  std::unordered_map<std::string, std::string> forms_;  // lower-case word -> its form, where they differ
};

}  // namespace loom::data
