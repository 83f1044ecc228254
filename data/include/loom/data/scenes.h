#pragma once
/// Fashion-MNIST scenes for image captioning (the recipe of fashion_scenes.py): a 56x56 canvas
/// is a 2x2 grid of 28x28 cells holding 1-3 items (one item with probability 1/4, two with 1/2,
/// three with 1/4), each a random image of the given set, and a caption naming every item and
/// its cell in reading order: "a sneaker at the top left and a bag at the bottom right". Scenes
/// drawn from the training images never contain a test image, and the same seed gives the same
/// scenes.
///
///     auto scenes = loom::data::make_scenes(train_images, train_labels, 20000, /*seed=*/1);
///     scenes.images;       // (20000, 56, 56) float32 in [0, 1]
///     scenes.captions[0];  // {"a", "sneaker", "at", "the", "top", "left", "and", ...}
#include <cstdint>
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom::data {

/// The Fashion-MNIST class names, by label.
const std::vector<std::string>& fashion_classes();

struct SceneItem {
  std::int64_t cell = 0;   ///< 0 top left, 1 top right, 2 bottom left, 3 bottom right
  std::int64_t label = 0;  ///< Fashion-MNIST class
  std::int64_t image = 0;  ///< index of the source image
};

struct Scenes {
  Tensor images;                                   ///< (N, 56, 56) float32
  std::vector<std::vector<std::string>> captions;  ///< tokens; "," is a token of its own
  std::vector<std::vector<SceneItem>> items;       ///< in cell order
};

/// `count` scenes from images (M, 28, 28) and their labels (M) int64, drawn with `seed`.
/// ShapeError for other shapes; ValueError for count < 0, no images or a label that is not a
/// class of fashion_classes().
Scenes make_scenes(const Tensor& images, const Tensor& labels, std::int64_t count, std::uint64_t seed);

/// A caption's tokens as text: words separated by spaces, "," attached to the word before it.
std::string caption_text(const std::vector<std::string>& tokens);

}  // namespace loom::data
