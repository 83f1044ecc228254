#pragma once
/// Splitting text into tokens: words for word-level models, code points for character-level
/// ones. Both read UTF-8 and throw loom::ValueError (naming the byte offset) on invalid UTF-8.
///
///     loom::data::tokenize("Don't buy it, 10/10!")  // {"don't", "buy", "it", ",", "10", "/", "10", "!"}
///     loom::data::characters("né")                  // {"n", "é"}
#include <string>
#include <vector>

#include "loom/options.h"

namespace loom::data {

struct TokenizeOptions {
  /// Lower-case ASCII and Latin-1 letters ("ÉL DIJO" -> "él dijo"; other scripts are kept as they are).
  LOOM_ARG(bool, lowercase, true)
  /// Make each punctuation mark a token of its own; off: split on whitespace only.
  LOOM_ARG(bool, split_punctuation, true)
};

/// Words, numbers and punctuation marks. A word is a run of letters, digits and non-ASCII code
/// points; an apostrophe (' or U+2019) between two letters stays inside it ("don't"), and so do
/// a '.' or ',' between two digits ("3.5", "1,000"). Every other ASCII punctuation mark, and the
/// Unicode quotes, dashes and ellipsis, is a token on its own; whitespace separates.
std::vector<std::string> tokenize(const std::string& text, const TokenizeOptions& options = {});

/// `text` with ASCII and Latin-1 capitals made small, as `tokenize` does (valid UTF-8 in, valid out).
std::string lowercase(const std::string& text);

/// The code points of `text`, each as its UTF-8 string.
std::vector<std::string> characters(const std::string& text);

}  // namespace loom::data
