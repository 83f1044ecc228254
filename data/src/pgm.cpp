#include "loom/data/pgm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "loom/data/files.h"
#include "loom/errors.h"
#include "loom/io.h"

namespace loom::data {

namespace {

// A 16-bit image of 8192 x 8192 pixels is 128 MiB; a larger file is not read into memory.
constexpr std::uint64_t max_pgm_bytes = std::uint64_t{128} << 20;

// The next header number, skipping whitespace and '#' comments; -1 if there is none.
long long header_number(const std::string& bytes, std::size_t& at) {
  while (at < bytes.size()) {
    if (bytes[at] == '#')
      while (at < bytes.size() && bytes[at] != '\n') ++at;
    else if (std::isspace(static_cast<unsigned char>(bytes[at])))
      ++at;
    else
      break;
  }
  long long value = 0;
  std::size_t digits = 0;
  for (; at < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[at])) && digits < 9; ++at, ++digits)
    value = value * 10 + (bytes[at] - '0');
  return digits == 0 ? -1 : value;
}

}  // namespace

Tensor read_pgm(const std::string& path) {
  const std::string bytes = read_text_file("read_pgm", path, max_pgm_bytes);
  if (bytes.size() < 2 || bytes[0] != 'P' || bytes[1] != '5')
    throw IOError(fmt::format("read_pgm: '{}' is not a binary PGM image (it does not start with P5)", path));
  std::size_t at = 2;
  const long long width = header_number(bytes, at), height = header_number(bytes, at),
                  maxval = header_number(bytes, at);
  if (width <= 0 || height <= 0 || maxval <= 0 || maxval > 65535 || at >= bytes.size() ||
      !std::isspace(static_cast<unsigned char>(bytes[at])))
    throw IOError(fmt::format("read_pgm: '{}' has a malformed header (expected P5 width height maxval)", path));
  ++at;  // the single whitespace before the pixels
  const std::size_t depth = maxval < 256 ? 1 : 2, count = static_cast<std::size_t>(width * height);
  if (bytes.size() - at < count * depth)
    throw IOError(fmt::format("read_pgm: '{}' is truncated: {}x{} pixels need {} bytes, it has {}", path, width,
                              height, count * depth, bytes.size() - at));
  std::vector<float> pixels(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at + i * depth);
    const unsigned value = depth == 1 ? p[0] : (p[0] << 8 | p[1]);
    pixels[i] = static_cast<float>(std::min<double>(value, static_cast<double>(maxval)) / static_cast<double>(maxval));
  }
  return from_vector(pixels, {height, width});
}

void write_pgm(const std::string& path, const Tensor& image) {
  if (!image.defined() || image.dim() != 2)
    throw ShapeError(fmt::format("write_pgm: expected an image (height, width), got {}",
                                 image.defined() ? shape_str(image.shape()) : "undefined"));
  std::string out = fmt::format("P5\n{} {}\n255\n", image.size(1), image.size(0));
  for (double v : image.to_vector<double>())
    out += static_cast<char>(std::lround(255.0 * std::clamp(v, 0.0, 1.0)));
  write_file_atomically(path, out);
}

}  // namespace loom::data
