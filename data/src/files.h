#pragma once
// Reading whole text files for the data loaders (private to data/).
#include <string>

namespace loom::data::detail {

// The bytes of `path`; IOError naming `function` and the path when it cannot be read.
std::string read_text_file(const char* function, const std::string& path);

}  // namespace loom::data::detail
