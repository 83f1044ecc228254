#include "loom/data/bible.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>

#include "loom/data/fields.h"
#include "loom/data/files.h"
#include "loom/errors.h"

namespace loom::data {

namespace {

// web-es.tsv is 8 MB; a file 32 times that is not one (and is not read into memory).
constexpr std::uint64_t max_tsv_bytes = std::uint64_t{256} << 20;

bool contains(const std::vector<std::string>& books, const std::string& book) {
  return std::find(books.begin(), books.end(), book) != books.end();
}

// "12:34": digits, one colon, digits.
bool is_chapter_verse(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ':' || std::isdigit(static_cast<unsigned char>(c)); }) &&
         text.find(':', colon + 1) == std::string::npos;
}

}  // namespace

std::string verse_book(const std::string& reference) {
  const auto space = reference.rfind(' ');
  if (space == std::string::npos || space == 0 || !is_chapter_verse(reference.substr(space + 1)))
    throw ValueError(fmt::format("verse_book: expected a reference like \"Genesis 1:1\", got \"{}\"", reference));
  return reference.substr(0, space);
}

const std::vector<std::string>& bible_test_books() {
  static const std::vector<std::string> books{"Galatians",       "Ephesians",        "Philippians", "Colossians",
                                              "I Thessalonians", "II Thessalonians", "Hebrews",     "James"};
  return books;
}

const std::vector<std::string>& bible_validation_books() {
  static const std::vector<std::string> books{"I Peter", "II Peter", "I John", "II John", "III John", "Jude"};
  return books;
}

BibleSplits split_by_book(const std::vector<VersePair>& pairs, const std::vector<std::string>& validation_books,
                          const std::vector<std::string>& test_books) {
  for (const auto& book : test_books)
    if (contains(validation_books, book))
      throw ValueError(fmt::format("split_by_book: expected disjoint validation and test books, got \"{}\" in both", book));
  BibleSplits splits;
  for (const auto& pair : pairs) {
    const std::string book = verse_book(pair.reference);
    (contains(test_books, book) ? splits.test : contains(validation_books, book) ? splits.validation : splits.train)
        .push_back(pair);
  }
  return splits;
}

BibleSplits load_bible_pairs(const std::string& path) {
  std::istringstream lines(read_utf8_file("load_bible_pairs", path, max_tsv_bytes));
  std::vector<VersePair> pairs;
  std::string line;
  for (std::int64_t number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const FieldSource at{"load_bible_pairs", path, number};
    const auto first = line.find('\t');
    const auto second = first == std::string::npos ? first : line.find('\t', first + 1);
    if (second == std::string::npos || line.find('\t', second + 1) != std::string::npos)
      throw_field_error(at, fmt::format("expected reference, English and Spanish separated by tabs, got {}",
                                        quote_field(line)));
    VersePair pair{line.substr(0, first), line.substr(first + 1, second - first - 1), line.substr(second + 1)};
    try {
      verse_book(pair.reference);
    } catch (const ValueError& e) {
      throw_field_error(at, e.what());
    }
    // An empty side would be a pair with nothing to translate or nothing to learn.
    if (pair.english.empty() || pair.spanish.empty())
      throw_field_error(at, fmt::format("expected an English and a Spanish verse, got an empty {} one",
                                        pair.english.empty() ? "English" : "Spanish"));
    pairs.push_back(std::move(pair));
  }
  auto splits = split_by_book(pairs, bible_validation_books(), bible_test_books());
  if (splits.train.empty() || splits.validation.empty() || splits.test.empty())
    throw IOError(fmt::format("load_bible_pairs: {} has {} training, {} validation and {} test verses; every split "
                              "needs some (validation books: {}; test books: {})", path, splits.train.size(),
                              splits.validation.size(), splits.test.size(), fmt::join(bible_validation_books(), ", "),
                              fmt::join(bible_test_books(), ", ")));
  return splits;
}

}  // namespace loom::data
