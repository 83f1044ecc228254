#include "loom/data/tokenizer.h"

#include <fmt/format.h>

#include <cstdint>

#include "loom/errors.h"
#include "loom/data/utf8.h"

namespace loom::data {
namespace {

struct CodePoint {
  std::uint32_t value;
  std::string bytes;
};

std::vector<CodePoint> decode(const char* function, const std::string& text) {
  std::vector<CodePoint> out;
  for (std::size_t pos = 0; pos < text.size();) {
    std::uint32_t value = 0;
    const std::size_t length = utf8_sequence_length(text, pos, &value);
    if (length == 0)
      throw ValueError(fmt::format("{}: expected UTF-8 text, got an invalid byte 0x{:02x} at offset {}",
                                   function, static_cast<unsigned char>(text[pos]), pos));
    out.push_back({value, text.substr(pos, length)});
    pos += length;
  }
  return out;
}

bool is_space(std::uint32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || c == 0x3000 ||
         (c >= 0x2000 && c <= 0x200B);
}
bool is_digit(std::uint32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_letter(std::uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Unicode punctuation common in English text: curly quotes, dashes, ellipsis.
bool is_unicode_punctuation(std::uint32_t c) {
  return (c >= 0x2010 && c <= 0x201F) || c == 0x2026 || c == 0xAB || c == 0xBB;
}
// Letters, digits and (to keep other scripts whole) every non-ASCII code point that is not
// space or the punctuation above.
bool is_word(std::uint32_t c) {
  if (c < 0x80) return is_ascii_letter(c) || is_digit(c);
  return !is_space(c) && !is_unicode_punctuation(c);
}
bool is_apostrophe(std::uint32_t c) { return c == '\'' || c == 0x2019; }

}  // namespace

std::string lowercase(const std::string& text) {
  std::string out = text;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto byte = static_cast<unsigned char>(out[i]);
    if (byte >= 'A' && byte <= 'Z') out[i] = static_cast<char>(byte + ('a' - 'A'));
    // Latin-1 capitals U+00C0..U+00DE but for U+00D7 (the multiplication sign) lie 0x20 below
    // their small letters; in UTF-8 (0xC3 0x80..0x9E) that is the second byte. A 0xC3 is always
    // a lead byte, so invalid UTF-8 stays exactly as invalid.
    const auto next = i + 1 < out.size() ? static_cast<unsigned char>(out[i + 1]) : 0;
    if (byte == 0xC3 && next >= 0x80 && next <= 0x9E && next != 0x97) out[++i] = static_cast<char>(next + 0x20);
  }
  return out;
}

std::vector<std::string> tokenize(const std::string& text, const TokenizeOptions& options) {
  const auto points = decode("tokenize", options.lowercase() ? lowercase(text) : text);

  std::vector<std::string> tokens;
  std::string current;
  const auto flush = [&] {
    if (!current.empty()) tokens.push_back(std::move(current));
    current.clear();
  };
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::uint32_t c = points[i].value;
    if (is_space(c)) {
      flush();
    } else if (!options.split_punctuation() || is_word(c)) {
      current += points[i].bytes;
    } else {
      // A joiner between two word characters stays inside the word.
      const bool has_neighbours = !current.empty() && i + 1 < points.size();
      const std::uint32_t prev = has_neighbours ? points[i - 1].value : 0;
      const std::uint32_t next = has_neighbours ? points[i + 1].value : 0;
      const bool inside_word = has_neighbours && is_apostrophe(c) && is_word(prev) &&
                               !is_digit(prev) && is_word(next) && !is_digit(next);
      const bool inside_number =
          has_neighbours && (c == '.' || c == ',') && is_digit(prev) && is_digit(next);
      if (inside_word || inside_number) {
        current += points[i].bytes;
      } else {
        flush();
        tokens.push_back(points[i].bytes);
      }
    }
  }
  flush();
  return tokens;
}

std::vector<std::string> characters(const std::string& text) {
  std::vector<std::string> out;
  for (auto& p : decode("characters", text)) out.push_back(std::move(p.bytes));
  return out;
}

}  // namespace loom::data
