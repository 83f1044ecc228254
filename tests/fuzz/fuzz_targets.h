#pragma once
// The fuzz targets: one function per reader of outside bytes. Each writes the bytes where its
// reader looks (a file in a scratch folder) and reads them back; a typed loom::Error is the
// expected answer to bad bytes, anything else escapes and is a crash. The same functions drive
// the libFuzzer executables (fuzz_main.cpp) and the regression test that replays the checked-in
// seed corpus and every crash input found so far (tests/test_fuzz_inputs.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace loom_fuzz {

struct Target {
  const char* name;  // also the folder name under corpus/ and regressions/
  // Reads `data` with the target's reader; true when it was accepted, false on a loom::Error.
  bool (*run)(const std::uint8_t* data, std::size_t size);
};

/// safetensors, checkpoint, metrics_log, idx, delimited, vocabulary, run_config, and the tasks' data parsers:
/// sentiment, spam, daily_closes, bible, cmudict, labelled_idx, utf8_text, spoken_digits; pgm (captions'
/// images) and wav (speech); subwords (translate's SentencePiece models) where the program's sources
/// are built (LOOM_FUZZ_SUBWORDS).
const std::vector<Target>& targets();
/// The target with this name (std::invalid_argument when there is none).
const Target& target(const std::string& name);

}  // namespace loom_fuzz
