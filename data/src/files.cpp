#include "loom/data/files.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "loom/data/fields.h"
#include "loom/errors.h"

namespace loom::data {

std::string read_text_file(const char* function, const std::string& path, std::uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(fmt::format("{}: cannot open '{}': {}", function, path, std::strerror(errno)));
  const auto too_large = [&](const std::string& got) {
    return IOError(fmt::format("{}: '{}' is too large: expected at most {} bytes, got {}", function, path,
                               max_bytes, got));
  };
  std::string bytes;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > max_bytes) throw too_large(fmt::format("{}", size));
    bytes.reserve(static_cast<std::size_t>(size));
  }
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    if (bytes.size() + static_cast<std::uint64_t>(in.gcount()) > max_bytes) throw too_large("more");
    bytes.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw IOError(fmt::format("{}: error while reading '{}'", function, path));
  return bytes;
}

std::string read_utf8_file(const char* function, const std::string& path, std::uint64_t max_bytes) {
  std::string text = read_text_file(function, path, max_bytes);
  check_utf8(text, {function, path, 1});
  return text;
}

}  // namespace loom::data
