#pragma once
/// The UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015; CC BY 4.0), embedded in the
/// repository as data/sentiment/{amazon,imdb,yelp}.tsv (`label TAB sentence`, 1 = positive).
///
///     for (const auto& source : loom::data::load_sentiment("data/sentiment")) {
///       for (std::size_t i = 0; i < source.sentences.size(); ++i)
///         (source.is_test[i] ? test : train).add(source.sentences[i], source.labels[i]);
///     }
#include <cstdint>
#include <string>
#include <vector>

namespace loom::data {

struct SentimentSource {
  std::string name;                    ///< "amazon", "imdb" or "yelp"
  std::vector<std::string> sentences;
  std::vector<std::int64_t> labels;    ///< 1 positive, 0 negative
  std::vector<bool> is_test;           ///< the fixed 20% held out (see hash_split)
};

/// The three sources from `folder`, in the order amazon, imdb, yelp, each split 80/20 with
/// hash_split(sentences, 0.2) applied to the positive and the negative sentences apart, so the
/// held-out 20% is balanced too. IOError naming the file and line on a malformed row.
std::vector<SentimentSource> load_sentiment(const std::string& folder);

/// 64-bit FNV-1a of the bytes: the same on every platform and run.
std::uint64_t stable_hash(const std::string& text);

/// A fixed split: the round(test_fraction * n) keys with the smallest stable_hash (ties by key,
/// then position) are marked test. It depends on the keys alone, not on their order or a seed,
/// so the same data always splits the same way, and exactly as many as asked are held out.
std::vector<bool> hash_split(const std::vector<std::string>& keys, double test_fraction);

}  // namespace loom::data
