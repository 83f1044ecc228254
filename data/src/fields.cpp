#include "loom/data/fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "loom/data/utf8.h"
#include "loom/errors.h"

namespace loom::data {

std::string quote_field(const std::string& text) {
  constexpr std::size_t limit = 40;  // enough to find the field, never a whole 2,000-character mail
  std::string out = "'";
  std::size_t pos = 0;
  while (pos < text.size() && pos < limit) {
    const std::size_t length = utf8_sequence_length(text, pos);
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (length == 0 || byte < 0x20 || byte == 0x7F) {  // a line end or a stray byte would garble the one line
      out += fmt::format("\\x{:02x}", byte);
      ++pos;
    } else {
      out.append(text, pos, length);
      pos += length;
    }
  }
  return out + (pos < text.size() ? "...'" : "'");
}

void throw_field_error(const FieldSource& source, const std::string& message) {
  throw IOError(fmt::format("{}: {}:{}: {}", source.function, source.path, source.line, message));
}

std::int64_t parse_integer(const std::string& text, std::int64_t min, std::int64_t max, const FieldSource& source,
                           const char* field) {
  const auto fail = [&] {
    throw_field_error(source, fmt::format("expected an integer in [{}, {}] {}, got {}", min, max, field, quote_field(text)));
  };
  const std::size_t digits_start = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == digits_start ||
      !std::all_of(text.begin() + static_cast<std::ptrdiff_t>(digits_start), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    fail();
  errno = 0;
  const long long value = std::strtoll(text.c_str(), nullptr, 10);  // digits only: it reads them all
  if (errno == ERANGE || value < min || value > max) fail();
  return value;
}

double parse_finite_number(const std::string& text, const FieldSource& source, const char* field) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  while (*end == ' ' || *end == '\t') ++end;
  // strtod skips leading spaces itself; it also reads "inf" and "nan", which are not finite.
  if (end == text.c_str() || end != text.c_str() + text.size() || !std::isfinite(value))
    throw_field_error(source, fmt::format("expected a finite number {}, got {}", field, quote_field(text)));
  return value;
}

void check_utf8(const std::string& text, const FieldSource& source) {
  const std::size_t bad = first_invalid_utf8(text);
  if (bad == std::string::npos) return;
  const std::size_t newline = text.rfind('\n', bad);
  const std::size_t line_start = newline == std::string::npos ? 0 : newline + 1;
  const auto lines_before = static_cast<std::int64_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n'));
  throw_field_error({source.function, source.path, source.line + lines_before},
                    fmt::format("expected UTF-8 text, got the byte 0x{:02x} at column {}",
                                static_cast<unsigned char>(text[bad]), bad - line_start + 1));
}

}  // namespace loom::data
