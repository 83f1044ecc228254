#pragma once
/// The CMU Pronouncing Dictionary for grapheme-to-phoneme conversion, as Debian's
/// pocketsphinx-en-us ships it (`/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict`, BSD-2):
/// one "word PH ON ES" per line, lower case, 39 phones without stress marks, alternative
/// pronunciations as "word(2) ...", some lines with a "# comment" tail.
///
///     auto dict = loom::data::load_cmudict(path);   // 90/5/5 by a hash of the word
///     dict.train[0].word;      // "a"
///     dict.train[0].phones;    // {"AH"}
#include <string>
#include <vector>

namespace loom::data {

struct Pronunciation {
  std::string word;
  std::vector<std::string> phones;
};

struct CmuDict {
  std::vector<Pronunciation> train, validation, test;
};

/// Reads the dictionary, keeps the first pronunciation of every word made of a-z and
/// apostrophes (starting with a letter; stress digits are dropped if the file has them), and
/// splits the words 90/5/5 by stable_hash(word) % 100 (< 90 train, < 95 validation, else test),
/// so every run and platform agree and a word never straddles two splits. Words keep the file's
/// order within a split. IOError when the file cannot be read or a kept line has no phones.
CmuDict load_cmudict(const std::string& path);

}  // namespace loom::data
