#pragma once
/// CSV and TSV files: fields split on a delimiter, with CSV quoting ("a, b" and "say ""hi""",
/// quoted fields may span lines), LF or CRLF line ends, a UTF-8 byte-order mark skipped, blank
/// lines skipped. Every row must have as many fields as the first (or the header); a file that
/// breaks a rule raises loom::IOError naming the file and line. A file larger than 1 GiB is
/// rejected before it is read.
///
///     auto table = loom::data::read_delimited("prices.csv");
///     for (const auto& row : table.rows) use(row[table.column("close")]);
#include <cstdint>
#include <string>
#include <vector>

namespace loom::data {

struct Table {
  std::vector<std::string> header;             ///< empty when the file has none
  std::vector<std::vector<std::string>> rows;
  std::vector<std::int64_t> line_numbers;      ///< the line each row starts on, for messages
  std::string path;

  /// Index of the header field `name`; IOError listing the header when there is none.
  std::int64_t column(const std::string& name) const;
};

/// Reads a delimited text file. With `quoting` off, '"' is an ordinary character (for TSV files
/// of raw sentences, where a field may start with a quote).
Table read_delimited(const std::string& path, char delimiter = ',', bool has_header = true,
                     bool quoting = true);

/// The values of the named column of a CSV file with a header, as numbers; IOError naming the
/// line of a field that is not one (empty fields included).
std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    char delimiter = ',');

}  // namespace loom::data
