#include "loom/data/vocabulary.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "loom/data/files.h"
#include "loom/errors.h"
#include "loom/io.h"
#include "loom/data/utf8.h"

namespace loom::data {
namespace {

// Bounds on a vocabulary file, checked before any token is built: 10^7 tokens is already an
// embedding of gigabytes, and a real file is a few megabytes.
constexpr std::uint64_t max_file_bytes = std::uint64_t(1) << 28;
constexpr std::size_t max_tokens = 10'000'000;

std::string escape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

// The token of one saved line; IOError naming the file and line on a bad escape.
std::string unescape(const std::string& line, const std::string& path, std::size_t line_number) {
  if (line.find('\r') != std::string::npos)
    throw IOError(fmt::format("Vocabulary::load: {}:{}: expected no raw carriage return (save writes "
                              "it as \\r), got one: CRLF line ends?", path, line_number));
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\') {
      out += line[i];
      continue;
    }
    const char next = i + 1 < line.size() ? line[i + 1] : '\0';
    if (next == '\\') out += '\\';
    else if (next == 'n') out += '\n';
    else if (next == 'r') out += '\r';
    else
      throw IOError(fmt::format("Vocabulary::load: {}:{}: expected \\\\, \\n or \\r after a backslash, got '{}'",
                                path, line_number, line.substr(i, 2)));
    ++i;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& Vocabulary::specials() {
  static const std::vector<std::string> names = {"<pad>", "<unk>", "<bos>", "<eos>"};
  return names;
}

Vocabulary::Vocabulary() : Vocabulary(specials()) {}

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < specials().size(); ++i)
    if (i >= tokens_.size() || tokens_[i] != specials()[i])
      throw ValueError(fmt::format("Vocabulary: expected id {} to be '{}', got {}", i, specials()[i],
                                   i < tokens_.size() ? "'" + tokens_[i] + "'" : "no token"));
  for (std::size_t i = 0; i < tokens_.size(); ++i)
    if (!ids_.emplace(tokens_[i], static_cast<std::int64_t>(i)).second)
      throw ValueError(fmt::format("Vocabulary: token '{}' appears twice (ids {} and {})", tokens_[i],
                                   ids_.at(tokens_[i]), i));
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& sequences,
                             const VocabularyOptions& options) {
  const auto n_specials = static_cast<std::int64_t>(specials().size());
  if (options.min_frequency() < 1)
    throw ValueError(fmt::format("Vocabulary::build: expected min_frequency >= 1, got {}",
                                 options.min_frequency()));
  if (options.max_size() != 0 && options.max_size() < n_specials)
    throw ValueError(fmt::format("Vocabulary::build: expected max_size 0 (no limit) or >= {} (the "
                                 "specials), got {}", n_specials, options.max_size()));
  std::map<std::string, std::int64_t> counts;  // ordered: ties below stay alphabetical
  for (const auto& sequence : sequences)
    for (const auto& token : sequence) ++counts[token];
  for (const auto& special : specials()) counts.erase(special);

  std::vector<std::pair<std::string, std::int64_t>> kept;
  for (const auto& entry : counts)
    if (entry.second >= options.min_frequency()) kept.push_back(entry);
  std::stable_sort(kept.begin(), kept.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (options.max_size() != 0 && static_cast<std::int64_t>(kept.size()) > options.max_size() - n_specials)
    kept.resize(static_cast<std::size_t>(options.max_size() - n_specials));

  std::vector<std::string> tokens = specials();
  for (auto& entry : kept) tokens.push_back(std::move(entry.first));
  return Vocabulary(std::move(tokens));
}

std::vector<std::int64_t> Vocabulary::encode(const std::vector<std::string>& tokens,
                                             bool add_bos_eos) const {
  std::vector<std::int64_t> ids;
  ids.reserve(tokens.size() + 2);
  if (add_bos_eos) ids.push_back(bos_id);
  for (const auto& t : tokens) ids.push_back(id(t));
  if (add_bos_eos) ids.push_back(eos_id);
  return ids;
}

std::vector<std::string> Vocabulary::decode(const std::vector<std::int64_t>& ids,
                                            bool keep_specials) const {
  std::vector<std::string> out;
  for (std::int64_t i : ids)
    if (keep_specials || i < 0 || i >= static_cast<std::int64_t>(specials().size()))
      out.push_back(token(i));
  return out;
}

std::int64_t Vocabulary::id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unk_id : it->second;
}

bool Vocabulary::contains(const std::string& token) const { return ids_.count(token) != 0; }

const std::string& Vocabulary::token(std::int64_t id) const {
  if (id < 0 || id >= size())
    throw IndexError(fmt::format("Vocabulary::token: expected an id in [0, {}), got {}", size(), id));
  return tokens_[static_cast<std::size_t>(id)];
}

void Vocabulary::save(const std::string& path) const {
  std::string bytes;
  for (const auto& t : tokens_) bytes += escape(t) + '\n';
  write_file_atomically(path, bytes);
}

Vocabulary Vocabulary::load(const std::string& path) {
  const std::string bytes = read_text_file("Vocabulary::load", path, max_file_bytes);
  if (const auto bad = first_invalid_utf8(bytes); bad != std::string::npos)
    throw IOError(fmt::format("Vocabulary::load: {}: expected UTF-8, got an invalid byte at offset {}",
                              path, bad));
  if (!bytes.empty() && bytes.back() != '\n')
    throw IOError(fmt::format("Vocabulary::load: {}: expected a newline at the end of the last "
                              "line (a truncated file?)", path));
  const auto lines = static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
  if (lines > max_tokens)
    throw IOError(fmt::format("Vocabulary::load: {}: expected at most {} tokens, got {} lines", path,
                              max_tokens, lines));
  std::vector<std::string> tokens;
  tokens.reserve(lines);
  for (std::size_t start = 0; start < bytes.size();) {
    const std::size_t end = bytes.find('\n', start);
    tokens.push_back(unescape(bytes.substr(start, end - start), path, tokens.size() + 1));
    start = end + 1;
  }
  try {
    return Vocabulary(std::move(tokens));
  } catch (const ValueError& e) {
    // Ids are line numbers minus one: the constructor's message locates the problem.
    throw IOError(fmt::format("Vocabulary::load: {}: {} (line = id + 1)", path, e.what()));
  }
}

}  // namespace loom::data
