#include "loom/data/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "loom/errors.h"

namespace loom::data {
namespace {

// Declared sizes beyond these are rejected before anything is read: no real IDX file comes close
// (Fashion-MNIST's training images are 47 MB).
constexpr std::uint64_t max_side = 1u << 16;
constexpr std::uint64_t max_total_bytes = std::uint64_t(1) << 30;  // 1 GiB
// Deflate expands at most 1032:1, so a gzip'ed file of n bytes holds at most this times n.
constexpr std::uint64_t max_deflate_ratio = 1032;
constexpr std::size_t read_chunk = 1 << 20;

// A gzip'ed (or plain: zlib reads both) file, closed on scope exit.
class GzFile {
 public:
  GzFile(const char* function, const std::string& path) : function_(function), path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_)
      throw IOError(fmt::format("{}: cannot open '{}': {}", function, path,
                                errno ? std::strerror(errno) : "out of memory"));
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Up to `count` bytes appended to `out`; fewer only at the end of the data.
  std::size_t read(std::vector<unsigned char>& out, std::size_t count) {
    const std::size_t old_size = out.size();
    out.resize(old_size + count);
    std::size_t got = 0;
    while (got < count) {
      const auto want = static_cast<unsigned>(std::min<std::size_t>(count - got, read_chunk));
      const int n = gzread(file_, out.data() + old_size + got, want);
      if (n < 0) {
        int code = 0;
        throw IOError(fmt::format("{}: {}: corrupt gzip data: {}", function_, path_, gzerror(file_, &code)));
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    out.resize(old_size + got);
    return got;
  }

  // Reads exactly `count` bytes in chunks, so memory follows the data and not the header's claim.
  std::vector<unsigned char> read_exactly(std::uint64_t count, const char* what) {
    std::vector<unsigned char> out;
    while (out.size() < count) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(count - out.size(), read_chunk));
      if (read(out, want) < want)
        throw IOError(fmt::format("{}: {}: the file is truncated: expected {} bytes of {}, got {}",
                                  function_, path_, count, what, out.size()));
    }
    return out;
  }

  // Whether the file is read as it is (not gzip'ed); known after the first read.
  bool is_raw() { return gzdirect(file_) == 1; }

  void expect_end() {
    std::vector<unsigned char> extra;
    if (read(extra, 1) != 0)
      throw IOError(fmt::format("{}: {}: expected the file to end after the data its header "
                                "declares, got more bytes", function_, path_));
  }

 private:
  const char* function_;
  const std::string& path_;
  gzFile file_ = nullptr;
};

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// The header's sizes after checking its magic number (unsigned bytes, `dims` dimensions).
std::vector<std::uint64_t> read_header(GzFile& file, const char* function, const std::string& path,
                                       std::uint32_t dims) {
  const std::uint32_t magic = 0x00000800u | dims;
  const auto head = file.read_exactly(4, "header");
  if (big_endian(head.data()) != magic)
    throw IOError(fmt::format("{}: {}: expected the IDX magic number 0x{:08x} (unsigned bytes, {} "
                              "dimensions), got 0x{:08x}", function, path, magic, dims,
                              big_endian(head.data())));
  const auto sizes_bytes = file.read_exactly(4 * dims, "header");
  std::vector<std::uint64_t> sizes;
  std::uint64_t total = 1;
  for (std::uint32_t d = 0; d < dims; ++d) {
    sizes.push_back(big_endian(sizes_bytes.data() + 4 * d));
    if (d > 0 && (sizes.back() == 0 || sizes.back() > max_side))
      throw IOError(fmt::format("{}: {}: expected dimension {} in [1, {}], got {}", function, path, d,
                                max_side, sizes.back()));
    total *= sizes.back();  // < 2^32 * 2^16 * 2^16: no overflow
  }
  if (total > max_total_bytes)
    throw IOError(fmt::format("{}: {}: expected at most {} bytes of data, the header declares {}",
                              function, path, max_total_bytes, total));
  // The file's length bounds what it can hold: exactly the header and the data when it is raw,
  // 1032 times its length when it is gzip'ed.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    const auto file_bytes = static_cast<std::uint64_t>(info.st_size);
    const std::uint64_t header_bytes = 4 + 4 * std::uint64_t(dims);
    if (file.is_raw() && file_bytes != header_bytes + total)
      throw IOError(fmt::format("{}: {}: the header declares {} bytes of data, the file holds {}", function,
                                path, total, file_bytes - header_bytes));
    if (!file.is_raw() && total > max_deflate_ratio * file_bytes)
      throw IOError(fmt::format("{}: {}: the header declares {} bytes of data, more than a gzip'ed file of {} "
                                "bytes can hold", function, path, total, file_bytes));
  }
  return sizes;
}

}  // namespace

Tensor read_idx_images(const std::string& path) {
  GzFile file("read_idx_images", path);
  const auto sizes = read_header(file, "read_idx_images", path, 3);
  const auto pixels = file.read_exactly(sizes[0] * sizes[1] * sizes[2], "pixels");
  file.expect_end();
  auto images = empty({static_cast<std::int64_t>(sizes[0]), static_cast<std::int64_t>(sizes[1]),
                       static_cast<std::int64_t>(sizes[2])});  // (N, rows, cols)
  float* out = images.data<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i) out[i] = static_cast<float>(pixels[i]) / 255.0f;
  return images;
}

Tensor read_idx_labels(const std::string& path) {
  GzFile file("read_idx_labels", path);
  const auto sizes = read_header(file, "read_idx_labels", path, 1);
  const auto bytes = file.read_exactly(sizes[0], "labels");
  file.expect_end();
  auto labels = empty({static_cast<std::int64_t>(sizes[0])}, Dtype::Int64);  // (N)
  std::copy(bytes.begin(), bytes.end(), labels.data<std::int64_t>());
  return labels;
}

LabelledImages read_idx_labelled(const std::string& images_path, const std::string& labels_path, std::int64_t rows,
                                 std::int64_t cols, std::int64_t classes) {
  LabelledImages out{read_idx_images(images_path), read_idx_labels(labels_path)};
  if (out.images.size(1) != rows || out.images.size(2) != cols)
    throw IOError(fmt::format("read_idx_labelled: {}: expected images of {}x{} pixels, got {}x{}", images_path, rows,
                              cols, out.images.size(1), out.images.size(2)));
  if (out.labels.size(0) != out.images.size(0))
    throw IOError(fmt::format("read_idx_labelled: {}: expected a label for each of the {} images of {}, got {} labels",
                              labels_path, out.images.size(0), images_path, out.labels.size(0)));
  const std::int64_t* labels = out.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < out.labels.size(0); ++i)
    if (labels[i] >= classes)  // unsigned bytes: never below 0
      throw IOError(fmt::format("read_idx_labelled: {}: expected labels in [0, {}), got {} at label {} (from 0)",
                                labels_path, classes, labels[i], i));
  return out;
}

}  // namespace loom::data
