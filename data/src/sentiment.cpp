#include "loom/data/sentiment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "loom/data/delimited.h"
#include "loom/data/fields.h"
#include "loom/errors.h"

namespace loom::data {

std::uint64_t stable_hash(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a offset basis and prime
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

std::vector<bool> hash_split(const std::vector<std::string>& keys, double test_fraction) {
  if (!(test_fraction >= 0.0 && test_fraction <= 1.0))
    throw ValueError(fmt::format("hash_split: expected test_fraction in [0, 1], got {}", test_fraction));
  std::vector<std::size_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::uint64_t> hashes;
  for (const auto& key : keys) hashes.push_back(stable_hash(key));
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (hashes[a] != hashes[b]) return hashes[a] < hashes[b];
    return keys[a] != keys[b] ? keys[a] < keys[b] : a < b;
  });
  const auto held_out = static_cast<std::size_t>(std::lround(test_fraction * static_cast<double>(keys.size())));
  std::vector<bool> is_test(keys.size(), false);
  for (std::size_t i = 0; i < held_out; ++i) is_test[order[i]] = true;
  return is_test;
}

std::vector<SentimentSource> load_sentiment(const std::string& folder) {
  std::vector<SentimentSource> sources;
  for (const char* name : {"amazon", "imdb", "yelp"}) {
    const std::string path = folder + "/" + name + ".tsv";
    // Sentences may start with a quote that is part of the text: no CSV quoting.
    const Table table = read_delimited(path, '\t', false, false);
    SentimentSource source;
    source.name = name;
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      const auto& row = table.rows[r];
      const FieldSource at{"load_sentiment", path, table.line_numbers[r]};
      if (row.size() != 2 || row[1].empty())
        throw_field_error(at, fmt::format("expected 'LABEL<TAB>SENTENCE', got {} field(s) starting {}",
                                          row.size(), quote_field(row[0])));
      source.labels.push_back(parse_integer(row[0], 0, 1, at, "as the label"));
      check_utf8(row[1], at);
      source.sentences.push_back(row[1]);
    }
    // Split each label apart, so the held-out part is balanced as the whole is (100 + 100).
    source.is_test.assign(source.sentences.size(), false);
    for (std::int64_t label : {0, 1}) {
      std::vector<std::size_t> rows;
      std::vector<std::string> keys;
      for (std::size_t i = 0; i < source.sentences.size(); ++i)
        if (source.labels[i] == label) rows.push_back(i), keys.push_back(source.sentences[i]);
      const auto is_test = hash_split(keys, 0.2);
      for (std::size_t k = 0; k < rows.size(); ++k) source.is_test[rows[k]] = is_test[k];
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

}  // namespace loom::data
