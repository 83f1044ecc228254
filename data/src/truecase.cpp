#include "loom/data/truecase.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "loom/data/tokenizer.h"
#include "loom/errors.h"

namespace loom::data {
namespace {

// Marks that end a sentence, and those that may open one before its first word.
bool ends_sentence(const std::string& token) { return token == "." || token == "?" || token == "!"; }
bool opens_sentence(const std::string& token) {
  static const std::set<std::string> openers{"¿", "¡", "(", "\"", "'", "«", "“", "‘", "—", "-"};
  return openers.count(token) > 0;
}

// The token with its first letter made capital (ASCII and Latin-1 small letters but for ÷;
// anything else is left as it is).
std::string capitalized(std::string token) {
  if (token.empty()) return token;
  const auto first = static_cast<unsigned char>(token[0]);
  const auto second = token.size() > 1 ? static_cast<unsigned char>(token[1]) : 0;
  if (first >= 'a' && first <= 'z') token[0] = static_cast<char>(first - ('a' - 'A'));
  // U+00E0..U+00FE (0xC3 0xA0..0xBE) lie 0x20 above their capitals; U+00F7 is the division sign.
  else if (first == 0xC3 && second >= 0xA0 && second <= 0xBE && second != 0xB7)
    token[1] = static_cast<char>(second - 0x20);
  return token;
}

}  // namespace

Truecaser Truecaser::learn(const Vocabulary& words, const std::vector<std::string>& texts) {
  std::map<std::string, std::map<std::string, std::int64_t>> counts;  // word -> form -> times seen
  for (const auto& text : texts) {
    bool sentence_start = true;
    for (const auto& token : tokenize(text, TokenizeOptions().lowercase(false))) {
      if (opens_sentence(token)) continue;
      const std::string word = lowercase(token);
      if (!sentence_start && words.contains(word)) ++counts[word][token];
      sentence_start = ends_sentence(token);
    }
  }
  Truecaser casing;
  for (const auto& [word, forms] : counts) {
    std::string best = word;  // wins ties
    std::int64_t best_count = forms.count(word) ? forms.at(word) : 0;
    for (const auto& [form, count] : forms)
      if (count > best_count) best = form, best_count = count;
    if (best != word) casing.forms_[word] = best;
  }
  return casing;
}

std::vector<std::string> Truecaser::apply(const std::vector<std::string>& tokens) const {
  std::vector<std::string> out;
  bool sentence_start = true;
  for (const auto& token : tokens) {
    if (opens_sentence(token)) {
      out.push_back(token);
      continue;
    }
    const auto form = forms_.find(token);
    out.push_back(form == forms_.end() ? token : form->second);
    if (sentence_start) out.back() = capitalized(out.back());
    sentence_start = ends_sentence(token);
  }
  return out;
}

void Truecaser::save(const std::string& path, const Vocabulary& words) const {
  std::vector<std::string> forms = words.tokens();
  for (auto& word : forms) {
    const auto form = forms_.find(word);
    if (form != forms_.end()) word = form->second;
  }
  Vocabulary(forms).save(path);
}

Truecaser Truecaser::load(const std::string& path, const Vocabulary& words) {
  const Vocabulary forms = Vocabulary::load(path);  // its own checks: UTF-8, escapes, specials, duplicates
  if (forms.size() != words.size())
    throw IOError(fmt::format("Truecaser::load: {}: expected {} forms, one per word of the table, got {}", path,
                              words.size(), forms.size()));
  Truecaser casing;
  for (std::int64_t id = 0; id < words.size(); ++id) {
    const std::string& form = forms.token(id);
    if (lowercase(form) != words.token(id))
      throw IOError(fmt::format("Truecaser::load: {}:{}: expected a casing of '{}', got '{}'", path, id + 1,
                                words.token(id), form));
    if (form != words.token(id)) casing.forms_[words.token(id)] = form;
  }
  return casing;
}

}  // namespace loom::data
