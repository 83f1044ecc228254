#pragma once
// UTF-8 checks shared by the tokenizer, the vocabulary loader and the report writer.
#include <cstddef>
#include <cstdint>
#include <string>

namespace loom::data {

// Length in bytes of the well-formed code point starting at text[pos], or 0 when the bytes there
// are not one (bad lead byte, missing continuation, overlong form, surrogate, > U+10FFFF).
// Its value goes to *code_point when given.
std::size_t utf8_sequence_length(const std::string& text, std::size_t pos,
                                 std::uint32_t* code_point = nullptr);

// Byte offset of the first invalid sequence, or npos when `text` is valid UTF-8.
std::size_t first_invalid_utf8(const std::string& text);

}  // namespace loom::data
