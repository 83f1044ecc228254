#pragma once
/// The SpamAssassin public corpus as scripts/data/spam_tsv.py writes it (`scripts/fetch_data.sh
/// spam` -> spam.tsv): a header `group TAB label TAB text`, then one mail per line.
///
///     for (const auto& mail : loom::data::load_spam("data/cache/spam/spam.tsv"))
///       (mail.is_test() ? test : train).add(mail.text, mail.label);
#include <cstdint>
#include <string>
#include <vector>

namespace loom::data {

struct SpamMail {
  std::string group;   ///< easy-ham-1, hard-ham-1, spam-1 (training); easy-ham-2, spam-2 (test)
  std::int64_t label;  ///< 1 spam, 0 ham
  std::string text;    ///< UTF-8

  /// The *-2 groups (the newer mail) test; the *-1 groups train.
  bool is_test() const { return !group.empty() && group.back() == '2'; }
};

/// The mails of `path`. A label that is not 0 or 1, a group that does not end in -1 or -2, a text
/// that is not UTF-8 or a missing column is an IOError naming the file and line.
std::vector<SpamMail> load_spam(const std::string& path);

}  // namespace loom::data
