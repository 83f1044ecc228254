#include "loom/data/scenes.h"

#include <fmt/format.h>

#include <algorithm>

#include "loom/errors.h"
#include "loom/random.h"

namespace loom::data {

namespace {

constexpr std::int64_t kCell = 28, kSide = 2 * kCell;
const std::vector<std::vector<std::string>> kCellWords = {
    {"top", "left"}, {"top", "right"}, {"bottom", "left"}, {"bottom", "right"}};

std::int64_t below(Generator& generator, std::int64_t n) {  // uniform in [0, n)
  return static_cast<std::int64_t>(generator.next_u64() % static_cast<std::uint64_t>(n));
}

}  // namespace

const std::vector<std::string>& fashion_classes() {
  static const std::vector<std::string> names = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                 "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

Scenes make_scenes(const Tensor& images, const Tensor& labels, std::int64_t count, std::uint64_t seed) {
  if (!images.defined() || images.dim() != 3 || images.size(1) != kCell || images.size(2) != kCell)
    throw ShapeError(fmt::format("make_scenes: expected images (M, 28, 28), got {}",
                                 images.defined() ? shape_str(images.shape()) : "undefined"));
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != images.size(0))
    throw ShapeError(fmt::format("make_scenes: expected labels ({}) for the images, got {}", images.size(0),
                                 labels.defined() ? shape_str(labels.shape()) : "undefined"));
  if (count < 0 || images.size(0) == 0)
    throw ValueError(fmt::format("make_scenes: expected count >= 0 and some images, got count {} and {} images",
                                 count, images.size(0)));
  const auto pixels = images.to_vector<float>();
  const auto label_of = labels.to_vector<std::int64_t>();
  const auto classes = static_cast<std::int64_t>(fashion_classes().size());
  for (std::size_t i = 0; i < label_of.size(); ++i)
    if (label_of[i] < 0 || label_of[i] >= classes)
      throw ValueError(fmt::format("make_scenes: expected labels in [0, {}), got {} for image {}", classes,
                                   label_of[i], i));
  Generator generator(seed);
  Scenes scenes;
  std::vector<float> canvas(static_cast<std::size_t>(count * kSide * kSide), 0.0f);  // (N, 56, 56)
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t items = std::vector<std::int64_t>{1, 2, 2, 3}[below(generator, 4)];
    std::vector<std::int64_t> cells = {0, 1, 2, 3};
    for (std::int64_t i = 0; i < items; ++i) std::swap(cells[i], cells[i + below(generator, 4 - i)]);
    std::sort(cells.begin(), cells.begin() + items);
    std::vector<SceneItem> placed;
    std::vector<std::string> caption;
    for (std::int64_t i = 0; i < items; ++i) {
      const std::int64_t image = below(generator, images.size(0)), cell = cells[i];
      const std::int64_t top = kCell * (cell / 2), left = kCell * (cell % 2);
      for (std::int64_t y = 0; y < kCell; ++y)
        std::copy_n(pixels.begin() + (image * kCell + y) * kCell, kCell,
                    canvas.begin() + (k * kSide + top + y) * kSide + left);
      placed.push_back({cell, label_of[image], image});
      if (i > 0) caption.push_back(i + 1 == items ? "and" : ",");
      const std::string& name = fashion_classes()[static_cast<std::size_t>(label_of[image])];
      caption.push_back(std::string("aeiou").find(name[0]) == std::string::npos ? "a" : "an");
      for (std::size_t start = 0; start <= name.size();) {  // "ankle boot" is two words
        const auto space = std::min(name.find(' ', start), name.size());
        caption.push_back(name.substr(start, space - start));
        start = space + 1;
      }
      caption.insert(caption.end(), {"at", "the"});
      caption.insert(caption.end(), kCellWords[cell].begin(), kCellWords[cell].end());
    }
    scenes.items.push_back(std::move(placed));
    scenes.captions.push_back(std::move(caption));
  }
  scenes.images = from_vector(canvas, {count, kSide, kSide});
  return scenes;
}

std::string caption_text(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) out += (out.empty() || token == "," ? "" : " ") + token;
  return out;
}

}  // namespace loom::data
