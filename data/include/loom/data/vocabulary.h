#pragma once
/// A token <-> id table for word- or character-level models. Ids 0..3 are the specials
/// `<pad>`, `<unk>`, `<bos>`, `<eos>`; the rest are the tokens seen in training, most frequent
/// first (ties in alphabetical order, so the same corpus always gives the same table).
///
///     auto vocab = loom::data::Vocabulary::build(token_sequences,
///                                               loom::data::VocabularyOptions().min_frequency(2));
///     auto ids = vocab.encode(loom::data::tokenize("A fine movie."));  // unknown words -> 1
///     vocab.save(run_dir + "/vocab.txt");                              // saved with the model
///     auto same = loom::data::Vocabulary::load(run_dir + "/vocab.txt");
///
/// For a character-level table, build from `loom::data::characters(text)` sequences.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/options.h"

namespace loom::data {

struct VocabularyOptions {
  /// Tokens seen fewer times than this are left out (they encode as `<unk>`).
  LOOM_ARG(std::int64_t, min_frequency, 1)
  /// The largest table, the four specials included (the embedding's row count); 0: no limit.
  LOOM_ARG(std::int64_t, max_size, 0)
};

class Vocabulary {
 public:
  static constexpr std::int64_t pad_id = 0;
  static constexpr std::int64_t unk_id = 1;
  static constexpr std::int64_t bos_id = 2;
  static constexpr std::int64_t eos_id = 3;
  /// "<pad>", "<unk>", "<bos>", "<eos>" in id order.
  static const std::vector<std::string>& specials();

  /// The four specials only.
  Vocabulary();
  /// A table in the given id order; it must start with the four specials and hold no duplicate
  /// (ValueError otherwise).
  explicit Vocabulary(std::vector<std::string> tokens);

  /// Counts the tokens of every sequence and keeps the frequent ones (see the options).
  static Vocabulary build(const std::vector<std::vector<std::string>>& sequences,
                          const VocabularyOptions& options = {});

  /// Ids of `tokens` (unknown ones -> unk_id), wrapped in bos/eos when asked.
  std::vector<std::int64_t> encode(const std::vector<std::string>& tokens,
                                   bool add_bos_eos = false) const;
  /// Tokens of `ids`; the specials are dropped unless `keep_specials`. IndexError on a bad id.
  std::vector<std::string> decode(const std::vector<std::int64_t>& ids,
                                  bool keep_specials = false) const;
  /// The id of `token`, or unk_id when it is not in the table.
  std::int64_t id(const std::string& token) const;
  bool contains(const std::string& token) const;
  /// The token with this id (IndexError when out of range).
  const std::string& token(std::int64_t id) const;
  std::int64_t size() const { return static_cast<std::int64_t>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }

  /// Writes one token per line in id order, UTF-8, atomically. A backslash, newline or carriage
  /// return inside a token is written as `\\`, `\n`, `\r`, so character tables round-trip.
  void save(const std::string& path) const;
  /// Reads a file written by save; IOError naming the file and line when it is not one
  /// (missing or misplaced specials, duplicates, bad escapes, invalid UTF-8), or when it is
  /// larger than any real table (over 256 MiB or 10^7 tokens), before building anything.
  static Vocabulary load(const std::string& path);

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

}  // namespace loom::data
