#pragma once
/// Binary PGM (P5) grayscale images, the simplest image file most tools write
/// (`convert scene.png -depth 8 scene.pgm`, GIMP, netpbm): a text header "P5 width height maxval"
/// (comments after '#'), then width * height bytes (maxval <= 255) or big-endian 16-bit values.
///
///     auto image = loom::data::read_pgm("scene.pgm");   // (56, 56) float32 in [0, 1]
///     loom::data::write_pgm("copy.pgm", image);
#include <string>

#include "loom/tensor.h"

namespace loom::data {

/// The image as float32 (height, width), values scaled from 0..maxval to [0, 1]. IOError if the
/// file cannot be read, is larger than 128 MiB (checked before it is read), is not a binary PGM
/// or is truncated.
Tensor read_pgm(const std::string& path);
/// Writes a (height, width) tensor of values in [0, 1] (clamped) as an 8-bit binary PGM.
void write_pgm(const std::string& path, const Tensor& image);

}  // namespace loom::data
