// The fuzz targets' inputs in the normal suite: every seed of tests/fuzz/corpus/NAME is a valid
// file its reader accepts, and every input a fuzzer ever crashed on (tests/fuzz/regressions/NAME)
// is now answered with a typed error or a clean load, under the sanitizers of the build.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_targets.h"
#include "test_util.h"

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The files of tests/fuzz/KIND/NAME, in a stable order (none when the folder does not exist).
std::vector<std::filesystem::path> inputs(const std::string& kind, const std::string& name) {
  const std::filesystem::path folder = std::filesystem::path(LOOM_TESTS_DIR) / "fuzz" / kind / name;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(folder))
    for (const auto& entry : std::filesystem::directory_iterator(folder)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("every fuzz target's seeds are files its reader accepts") {
  for (const auto& target : loom_fuzz::targets()) {
    const auto seeds = inputs("corpus", target.name);
    CAPTURE(target.name);
    CHECK(seeds.size() >= 2);
    for (const auto& seed : seeds) {
      CAPTURE(seed.string());
      const auto bytes = read_bytes(seed);
      CHECK(target.run(bytes.data(), bytes.size()));
    }
  }
}

TEST_CASE("every input that crashed a reader is now rejected with a typed error") {
  std::size_t replayed = 0;
  for (const auto& target : loom_fuzz::targets())
    for (const auto& input : inputs("regressions", target.name)) {
      CAPTURE(input.string());
      const auto bytes = read_bytes(input);
      // A crash or an untyped exception fails the test; each input so far is a malformed file.
      CHECK_FALSE(target.run(bytes.data(), bytes.size()));
      ++replayed;
    }
  CHECK(replayed >= 1);
}

TEST_CASE("a fuzz target rejects garbage with a typed error, not a crash") {
  const std::string garbage = "\x0e\xff not a file of any kind \n\n\"";
  for (const auto& target : loom_fuzz::targets()) {
    CAPTURE(target.name);
    CHECK_FALSE(target.run(reinterpret_cast<const std::uint8_t*>(garbage.data()), garbage.size()));
  }
}
