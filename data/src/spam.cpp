#include "loom/data/spam.h"

#include <fmt/format.h>

#include "loom/data/delimited.h"
#include "loom/data/fields.h"

namespace loom::data {

std::vector<SpamMail> load_spam(const std::string& path) {
  // Mail text may start with a quote that is part of it: no CSV quoting.
  const Table table = read_delimited(path, '\t', true, false);
  const auto group = static_cast<std::size_t>(table.column("group"));
  const auto label = static_cast<std::size_t>(table.column("label"));
  const auto text = static_cast<std::size_t>(table.column("text"));
  std::vector<SpamMail> mails;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const FieldSource at{"load_spam", path, table.line_numbers[r]};
    const std::string& name = row[group];
    if (name.size() < 2 || name[name.size() - 2] != '-' || (name.back() != '1' && name.back() != '2'))
      throw_field_error(at, fmt::format("expected a group ending in -1 (training) or -2 (test) in column 'group', "
                                        "got {}", quote_field(name)));
    check_utf8(row[text], at);
    mails.push_back({name, parse_integer(row[label], 0, 1, at, "in column 'label'"), row[text]});
  }
  return mails;
}

}  // namespace loom::data
