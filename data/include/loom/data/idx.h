#pragma once
/// IDX files (the MNIST / Fashion-MNIST format), gzip'ed or not: a big-endian header of magic
/// number (0x00000803 for unsigned-byte images, 0x00000801 for unsigned-byte labels) and sizes,
/// then the bytes. Magic, sizes and the data length are checked before the data is read (at
/// most 1 GiB; exactly the file's length when raw, at most deflate's 1032:1 when gzip'ed), and
/// memory grows only with the bytes actually read, so a truncated or hostile file raises
/// loom::IOError rather than allocating what its header claims.
///
///     auto images = loom::data::read_idx_images(
///         "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");   // (60000, 28, 28)
///     auto labels = loom::data::read_idx_labels(
///         "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");   // (60000) int64
///     auto train = loom::data::read_idx_labelled(images_path, labels_path, 28, 28, 10);  // both, checked
#include <string>

#include "loom/tensor.h"

namespace loom::data {

/// Images as float32 (N, rows, cols), pixel values scaled from 0..255 to [0, 1].
Tensor read_idx_images(const std::string& path);
/// Labels as int64 (N).
Tensor read_idx_labels(const std::string& path);

struct LabelledImages {
  Tensor images;  ///< float32 (N, rows, cols) in [0, 1]
  Tensor labels;  ///< int64 (N) in [0, classes)
};

/// An image file and its label file, checked to belong together: images of `rows` x `cols`
/// pixels, as many labels as images, each label in [0, classes). IOError naming the file and
/// the first label out of range (its index, from 0) otherwise.
LabelledImages read_idx_labelled(const std::string& images_path, const std::string& labels_path, std::int64_t rows,
                                 std::int64_t cols, std::int64_t classes);

}  // namespace loom::data
