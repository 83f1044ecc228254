#include "loom/data/delimited.h"

#include <fmt/format.h>

#include "loom/data/fields.h"
#include "loom/data/files.h"
#include "loom/errors.h"

namespace loom::data {
namespace {

// Tables are read whole, so a file's size bounds the memory: real data sets are megabytes.
constexpr std::uint64_t max_table_bytes = std::uint64_t(1) << 30;

// A one-pass reader of RFC 4180 records (plus CRLF/LF, blank lines and an optional BOM).
class RecordReader {
 public:
  RecordReader(const std::string& path, std::string bytes, char delimiter, bool quoting)
      : path_(path), bytes_(std::move(bytes)), delimiter_(delimiter), quoting_(quoting) {
    if (bytes_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
  }

  // The next record's fields into `fields` and its first line into `line`; false at the end.
  bool next(std::vector<std::string>& fields, std::int64_t& line) {
    skip_blank_lines();
    if (pos_ >= bytes_.size()) return false;
    line = line_;
    fields.clear();
    while (true) {
      fields.push_back(quoting_ && peek() == '"' ? quoted_field() : plain_field());
      if (pos_ >= bytes_.size()) return true;
      const char c = bytes_[pos_++];
      if (c == '\n') {
        ++line_;
        return true;
      }
      // The field readers stop only at the delimiter, a line end or the end of the file.
    }
  }

 private:
  char peek() const { return pos_ < bytes_.size() ? bytes_[pos_] : '\0'; }
  bool at_line_end() const {
    return pos_ >= bytes_.size() || bytes_[pos_] == '\n' ||
           (bytes_[pos_] == '\r' && (pos_ + 1 == bytes_.size() || bytes_[pos_ + 1] == '\n'));
  }
  // Steps over a '\r' of a CRLF so the caller sees the '\n'.
  void skip_cr() {
    if (pos_ < bytes_.size() && bytes_[pos_] == '\r') ++pos_;
  }

  void skip_blank_lines() {
    while (pos_ < bytes_.size() && at_line_end()) {
      skip_cr();
      if (pos_ < bytes_.size()) ++pos_, ++line_;  // the '\n'
    }
  }

  std::string plain_field() {
    std::string field;
    while (pos_ < bytes_.size() && bytes_[pos_] != delimiter_ && !at_line_end()) field += bytes_[pos_++];
    skip_cr();
    return field;
  }

  std::string quoted_field() {
    const std::int64_t start_line = line_;
    std::string field;
    ++pos_;  // the opening quote
    while (true) {
      if (pos_ >= bytes_.size())
        throw IOError(fmt::format("read_delimited: {}:{}: a quoted field is not closed before the "
                                  "end of the file", path_, start_line));
      const char c = bytes_[pos_++];
      if (c == '"') {
        if (peek() != '"') break;
        ++pos_;  // "" is one quote
      } else if (c == '\n') {
        ++line_;
      }
      field += c;
    }
    if (peek() != delimiter_ && !at_line_end())
      throw IOError(fmt::format("read_delimited: {}:{}: expected a delimiter or the line end after a "
                                "closing quote, got '{}'", path_, line_, peek()));
    skip_cr();
    return field;
  }

  const std::string& path_;
  std::string bytes_;
  char delimiter_;
  bool quoting_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

}  // namespace

std::int64_t Table::column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<std::int64_t>(i);
  std::string names;
  for (const auto& h : header) names += (names.empty() ? "'" : ", '") + h + "'";
  throw IOError(fmt::format("Table::column: {}: expected a column '{}', got the columns [{}]", path,
                            name, names));
}

Table read_delimited(const std::string& path, char delimiter, bool has_header, bool quoting) {
  if (delimiter == '\n' || delimiter == '\r' || (quoting && delimiter == '"'))
    throw ValueError(fmt::format("read_delimited: expected a delimiter other than a line end or "
                                 "the quote, got '{}'", delimiter));
  RecordReader reader(path, read_text_file("read_delimited", path, max_table_bytes), delimiter, quoting);
  Table table;
  table.path = path;
  std::vector<std::string> fields;
  std::int64_t line = 0;
  std::int64_t first_line = 0;
  std::size_t expected = 0;
  while (reader.next(fields, line)) {
    if (expected == 0) {
      expected = fields.size();
      first_line = line;
    } else if (fields.size() != expected) {
      throw IOError(fmt::format("read_delimited: {}:{}: expected {} fields (as on line {}), got {}",
                                path, line, expected, first_line, fields.size()));
    }
    if (has_header && table.header.empty()) {
      table.header = fields;
    } else {
      table.rows.push_back(fields);
      table.line_numbers.push_back(line);
    }
  }
  if (has_header && table.header.empty())
    throw IOError(fmt::format("read_delimited: {}: expected a header line, got an empty file", path));
  return table;
}

std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    char delimiter) {
  const Table table = read_delimited(path, delimiter, true);
  const auto index = static_cast<std::size_t>(table.column(column));
  std::vector<double> values;
  values.reserve(table.rows.size());
  const std::string field = fmt::format("in column '{}'", column);
  for (std::size_t r = 0; r < table.rows.size(); ++r)
    values.push_back(parse_finite_number(table.rows[r][index], {"read_csv_column", path, table.line_numbers[r]},
                                         field.c_str()));
  return values;
}

}  // namespace loom::data
