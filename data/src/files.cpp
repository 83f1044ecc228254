#include "files.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "loom/serialization.h"

namespace loom::data::detail {

std::string read_text_file(const char* function, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(fmt::format("{}: cannot open '{}': {}", function, path, std::strerror(errno)));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw IOError(fmt::format("{}: error while reading '{}'", function, path));
  return bytes.str();
}

}  // namespace loom::data::detail
