#pragma once
// Reading whole text files with a size bound (the data loaders, and tools that read user text).
#include <cstdint>
#include <string>

namespace loom::data {

// The bytes of `path`, which may hold at most `max_bytes`: a larger file is an IOError naming
// `function`, the path, the limit and the size, raised before anything is allocated (the size
// is checked with stat, and again while reading, for files that grow or have no size).
std::string read_text_file(const char* function, const std::string& path, std::uint64_t max_bytes);

// read_text_file for files of text: bytes that are not UTF-8 are an IOError naming the line and
// column of the first (the tokenizers read UTF-8 alone).
std::string read_utf8_file(const char* function, const std::string& path, std::uint64_t max_bytes);

}  // namespace loom::data
