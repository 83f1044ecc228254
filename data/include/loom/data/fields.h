#pragma once
// Checked reading of one field of a data file (a label, a price, a date, a sentence): every
// parser reads its fields through these, so a bad field is an IOError that names the reading
// function, the file and the line, what was expected and what was found:
//
//     load_spam: spam.tsv:12: expected an integer in [0, 1] in column 'label', got '-1'
//
// `field` places the field in those messages: "in column 'label'", "as the close".
#include <cstdint>
#include <string>

namespace loom::data {

/// Where a field was read, for the error: "FUNCTION: PATH:LINE: ..." (LINE counts from 1).
struct FieldSource {
  const char* function;
  const std::string& path;
  std::int64_t line;
};

/// A field as an error quotes it: in single quotes, its first 40 bytes and "..." when longer,
/// control characters and bytes that are not UTF-8 written \xNN (so the error stays one line).
std::string quote_field(const std::string& text);

/// The IOError "FUNCTION: PATH:LINE: MESSAGE".
[[noreturn]] void throw_field_error(const FieldSource& source, const std::string& message);

/// `text` as a decimal integer (an optional '-', then digits: nothing else, no spaces) in
/// [min, max]; otherwise an IOError "expected an integer in [MIN, MAX] FIELD, got 'TEXT'".
std::int64_t parse_integer(const std::string& text, std::int64_t min, std::int64_t max, const FieldSource& source,
                           const char* field);

/// `text` as a finite decimal number (spaces around it allowed); otherwise an IOError
/// "expected a finite number FIELD, got 'TEXT'".
double parse_finite_number(const std::string& text, const FieldSource& source, const char* field);

/// Nothing when `text` is valid UTF-8; otherwise an IOError naming the first invalid byte and its
/// column (from 1, in bytes). `source.line` is the line `text` starts on: for a whole file, 1,
/// and the error names the line of the byte.
void check_utf8(const std::string& text, const FieldSource& source);

}  // namespace loom::data
