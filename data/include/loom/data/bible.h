#pragma once
/// Verse-aligned English-Spanish Bible pairs for translation, as `scripts/fetch_data.sh translate`
/// writes them (data/cache/translate/web-es.tsv: `reference TAB World English Bible TAB
/// Reina-Valera 1909`, references like "Genesis 1:1" or "I John 5:7"), split by whole books so no
/// held-out verse has a neighbour from its own book in training.
///
///     auto verses = loom::data::load_bible_pairs(path);   // train / validation / test
///     verses.test[0].english;    // "Paul, an apostle (not from men, ...)" (Galatians 1:1)
#include <string>
#include <vector>

namespace loom::data {

struct VersePair {
  std::string reference;  ///< "Galatians 1:1"
  std::string english, spanish;
};

struct BibleSplits {
  std::vector<VersePair> train, validation, test;
};

/// The book of a verse reference: everything before the last space ("I John 5:7" -> "I John").
/// ValueError when the reference has no space or does not end in CHAPTER:VERSE.
std::string verse_book(const std::string& reference);

/// The held-out books: test = Galatians, Ephesians, Philippians, Colossians, I and II
/// Thessalonians, Hebrews and James (1,050 verses of web-es.tsv); validation = I and II Peter,
/// I, II and III John and Jude (323 verses). Every other book trains.
const std::vector<std::string>& bible_test_books();
const std::vector<std::string>& bible_validation_books();

/// Puts every pair in the split of its book: test when the book is in `test_books`, validation
/// when it is in `validation_books`, train otherwise; pairs keep their order. ValueError when a
/// book is in both lists.
BibleSplits split_by_book(const std::vector<VersePair>& pairs, const std::vector<std::string>& validation_books,
                          const std::vector<std::string>& test_books);

/// Reads the TSV (at most 256 MiB) and splits it with the books above. IOError naming the file
/// and line for a line without three tab-separated fields or with a malformed reference, or
/// for a file with no verse of a held-out book.
BibleSplits load_bible_pairs(const std::string& path);

}  // namespace loom::data
