#include "loom/data/cmudict.h"

#include <fmt/format.h>

#include <cctype>
#include <sstream>
#include <unordered_set>

#include "loom/data/fields.h"
#include "loom/data/files.h"
#include "loom/data/sentiment.h"
#include "loom/errors.h"

namespace loom::data {

namespace {

// The CMU dictionary is 3.6 MB; a file 16 times that is not one (and is not read into memory).
constexpr std::uint64_t max_dictionary_bytes = std::uint64_t{64} << 20;

bool is_plain_word(const std::string& word) {
  if (word.empty() || !std::islower(static_cast<unsigned char>(word[0]))) return false;
  for (char c : word)
    if (!std::islower(static_cast<unsigned char>(c)) && c != '\'') return false;
  return true;
}

}  // namespace

CmuDict load_cmudict(const std::string& path) {
  std::istringstream lines(read_utf8_file("load_cmudict", path, max_dictionary_bytes));
  CmuDict dict;
  std::unordered_set<std::string> seen;
  std::string line;
  for (std::int64_t number = 1; std::getline(lines, line); ++number) {
    if (line.rfind(";;;", 0) == 0) continue;  // comments of the original cmudict
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::string word;
    if (!(fields >> word)) continue;
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto variant = word.find('('); variant != std::string::npos) word.erase(variant);  // "word(2)"
    if (!is_plain_word(word) || !seen.insert(word).second) continue;
    const FieldSource at{"load_cmudict", path, number};
    Pronunciation entry{word, {}};
    for (std::string phone; fields >> phone;) {
      const std::string written = phone;
      while (!phone.empty() && std::isdigit(static_cast<unsigned char>(phone.back()))) phone.pop_back();  // stress
      if (phone.empty()) throw_field_error(at, fmt::format("expected a phone such as AH or AH1, got {}", quote_field(written)));
      entry.phones.push_back(phone);
    }
    if (entry.phones.empty())
      throw_field_error(at, fmt::format("expected a word and its phones, got {}", quote_field(line)));
    const auto bucket = stable_hash(word) % 100;
    (bucket < 90 ? dict.train : bucket < 95 ? dict.validation : dict.test).push_back(std::move(entry));
  }
  if (dict.train.empty()) throw IOError(fmt::format("load_cmudict: {} holds no dictionary entries", path));
  return dict;
}

}  // namespace loom::data
