// ImageCaptioner and the Fashion-MNIST scenes: gradcheck, the step decoder against the training
// pass, greedy against beam size 1, a frozen encoder (no gradient, fixed and cacheable
// features), overfitting, typed errors; scene generation and its batches.
#include <loom/data.h>
#include <loom/models.h>
#include <loom/optim/optimizers.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "test_util.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::message_of;
using namespace loom::models;

namespace {

constexpr std::int64_t kVocab = 7;

ImageCaptionerOptions tiny(const std::string& attention) {
  return ImageCaptionerOptions(kVocab).channels({3}).grid(2).embedding_dim(3).hidden_size(4).attention(attention);
}

std::unique_ptr<ImageCaptioner> make(const ImageCaptionerOptions& options, Dtype dtype, std::uint64_t seed) {
  loom::manual_seed(seed);
  auto model = std::make_unique<ImageCaptioner>(options);
  model->to(dtype);
  return model;
}

Tensor images(Dtype dtype) { return loom_test::input({3, 6, 6}, 11).to(dtype).detach(); }  // (3, 6, 6)
// <bos> then captions of lengths 3, 1 and 2, padded with 0.
Tensor target_input() { return loom::from_vector(std::vector<std::int64_t>{2, 4, 5, 6, 2, 0, 0, 0, 2, 6, 4, 0}, {3, 4}); }
Tensor target_output() {
  return loom::from_vector(std::vector<std::int64_t>{4, 5, 6, 3, 3, -100, -100, -100, 6, 4, 3, -100}, {3, 4});
}
Tensor target_lengths() { return loom::from_vector(std::vector<std::int64_t>{4, 1, 3}, {3}); }

Tensor loss_of(ImageCaptioner& model, const Tensor& pictures) {
  const Tensor logits = model.forward(pictures, target_input(), target_lengths());  // (3, 4, V)
  return loom::cross_entropy(logits.reshape({-1, kVocab}), target_output().reshape({-1}));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

}  // namespace

TEST_CASE("ImageCaptioner: gradcheck of the masked loss over every parameter and the image (float64)") {
  for (const std::string attention : {"luong", "none"}) {
    CAPTURE(attention);
    auto model = make(tiny(attention), Dtype::Float64, 1);
    std::vector<Tensor> inputs = model->parameters();
    inputs.push_back(images(Dtype::Float64).requires_grad_());
    loom_test::check_gradients([&](const std::vector<Tensor>& in) { return loss_of(*model, in.back()); }, inputs);
  }
}

TEST_CASE("ImageCaptioner: the step decoder gives the training pass's logits; padding changes no real step") {
  for (const std::string attention : {"luong", "none"}) {
    CAPTURE(attention);
    auto model = make(tiny(attention), Dtype::Float64, 2);
    model->eval();  // batch statistics would differ between a batch and its rows
    const Tensor pictures = images(Dtype::Float64);
    const Tensor logits = model->forward(pictures, target_input(), target_lengths());  // (3, 4, V)
    CHECK(logits.shape() == loom::Shape{3, 4, kVocab});
    auto decoder = model->decoder(pictures);
    for (std::int64_t t = 0; t < 4; ++t) {
      const Tensor log_probs = decoder->step(target_input().select(1, t));  // (3, V)
      const Tensor expected = loom::log_softmax(logits.select(1, t), 1);
      for (std::int64_t b = 0; b < 3; ++b)
        if (t < target_lengths().to_vector<std::int64_t>()[b]) {  // real steps only
          CAPTURE(t);
          CAPTURE(b);
          CHECK(max_abs_diff(log_probs.select(0, b), expected.select(0, b)) < 1e-12);
        }
      CHECK(decoder->last_attention().defined() == (attention == "luong"));
    }
    // Image 1 alone, with its one real step, gives the same first logits.
    const Tensor alone = model->forward(pictures.narrow(0, 1, 1), target_input().narrow(0, 1, 1).narrow(1, 0, 1));
    CHECK(max_abs_diff(alone.select(1, 0), logits.narrow(0, 1, 1).select(1, 0)) < 1e-12);
  }
}

TEST_CASE("ImageCaptioner: beam search with beam size 1 is greedy decoding") {
  auto model = make(tiny("luong"), Dtype::Float64, 3);
  model->eval();
  const Tensor pictures = images(Dtype::Float64);
  const auto options = DecodeOptions().max_length(7).beam_size(1);
  auto greedy_decoder = model->decoder(pictures);
  const auto greedy = greedy_decode(*greedy_decoder, 3, options);
  auto beam_decoder = model->decoder(pictures);
  const auto beam = beam_search(*beam_decoder, 3, options);
  for (std::size_t b = 0; b < 3; ++b) {
    CHECK(greedy[b].tokens == beam[b].tokens);
    CHECK(greedy[b].finished == beam[b].finished);
    CHECK(greedy[b].log_prob == doctest::Approx(beam[b].log_prob).epsilon(1e-12));
    CHECK(greedy[b].attention.size() == greedy[b].tokens.size() + (greedy[b].finished ? 1 : 0));
    CHECK(greedy[b].attention.at(0).size() == 4);  // 2 x 2 regions
  }
}

TEST_CASE("ImageCaptioner: a frozen encoder gets no gradient, keeps its weights and statistics, and its "
          "features can be cached") {
  auto model = make(tiny("luong"), Dtype::Float32, 4);
  model->freeze_encoder();
  CHECK(model->encoder_frozen());
  const auto encoder_before = model->encoder().state_dict();  // weights and batch-norm statistics
  std::map<std::string, Tensor> before_copy;
  for (const auto& [name, t] : encoder_before) before_copy[name] = t.clone();
  const Tensor pictures = images(Dtype::Float32);
  const Tensor cached = model->encode(pictures);  // (3, 3, 2, 2), computed once
  CHECK(cached.shape() == loom::Shape{3, 3, 2, 2});
  CHECK_FALSE(cached.requires_grad());

  loom::optim::Adam adam(model->named_parameters(), loom::optim::AdamOptions(0.05));
  for (int step = 0; step < 3; ++step) {
    model->zero_grad();
    loss_of(*model, pictures).backward();
    for (const auto& [name, p] : model->encoder().named_parameters()) {
      CAPTURE(name);
      CHECK_FALSE(p.grad().defined());
    }
    CHECK(model->state_dict().at("bridge.weight").grad().defined());
    adam.step();
  }
  for (const auto& [name, t] : model->encoder().state_dict()) {
    CAPTURE(name);
    CHECK(max_abs_diff(t, before_copy.at(name)) == 0.0);
  }
  // Training mode or not, the encoder gives the cached features, so the loss from the cache is
  // the loss from the images.
  model->train();
  CHECK(max_abs_diff(model->encode(pictures), cached) == 0.0);
  const Tensor from_cache = model->forward_features(cached, target_input(), target_lengths());
  model->eval();  // no dropout here, so only the encoder could have made a difference
  const Tensor from_images = model->forward(pictures, target_input(), target_lengths());
  CHECK(max_abs_diff(from_cache, from_images) == 0.0);
}

TEST_CASE("ImageCaptioner: overfits a tiny batch and then decodes its captions") {
  auto model = make(ImageCaptionerOptions(kVocab).channels({4}).grid(2).embedding_dim(8).hidden_size(16),
                    Dtype::Float32, 5);
  const Tensor pictures = images(Dtype::Float32);
  loom::optim::Adam adam(model->named_parameters(), loom::optim::AdamOptions(0.03));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    model->zero_grad();
    Tensor loss = loss_of(*model, pictures);
    loss.backward();
    adam.step();
    (step == 0 ? first : last) = loss.item();
  }
  CHECK(last < 0.05 * first);
  model->eval();
  auto decoder = model->decoder(pictures);
  const auto best = beam_search(*decoder, 3, DecodeOptions().beam_size(3).max_length(6));
  CHECK(best[0].tokens == std::vector<std::int64_t>{4, 5, 6});
  CHECK(best[1].tokens.empty());
  CHECK(best[2].tokens == std::vector<std::int64_t>{6, 4});
}

TEST_CASE("ImageCaptioner: bad options and inputs raise typed errors that name the model") {
  CHECK(message_of<loom::ValueError>([] { ImageCaptioner(tiny("bahdanau")); }).find("attention must be") !=
        std::string::npos);
  CHECK(message_of<loom::ValueError>([] { ImageCaptioner(tiny("none").grid(0)); }).find("grid") != std::string::npos);
  auto model = make(tiny("luong"), Dtype::Float32, 6);
  const auto wrong = message_of<loom::ShapeError>([&] { model->encode(loom::zeros({2, 3, 6, 6})); });
  CHECK(wrong == "ImageCaptioner: expected images (N, 1, H, W) or (N, H, W), got (2, 3, 6, 6)");
  CHECK(message_of<loom::ShapeError>([&] { model->forward_features(loom::zeros({3, 3, 4, 4}), target_input()); })
            .find("expected features (N, 3, 2, 2)") != std::string::npos);
  CHECK(message_of<loom::ShapeError>([&] { model->forward(images(Dtype::Float32).narrow(0, 0, 2), target_input()); })
            .find("caption batch of 2") != std::string::npos);
}

TEST_CASE("make_scenes: deterministic, only the given images, captions in cell order") {
  // 10 images, image i filled with the value (i + 1) / 16 and labelled i.
  std::vector<float> pixels;
  for (int i = 0; i < 10; ++i) pixels.insert(pixels.end(), 28 * 28, static_cast<float>(i + 1) / 16.0f);
  const Tensor source = loom::from_vector(pixels, {10, 28, 28});
  std::vector<std::int64_t> label_values(10);
  for (int i = 0; i < 10; ++i) label_values[i] = i;
  const Tensor labels = loom::from_vector(label_values, {10});
  // The first 6 images play the training set: no scene may show images 6..9.
  const auto scenes = loom::data::make_scenes(source.narrow(0, 0, 6), labels.narrow(0, 0, 6), 200, 1);
  const auto again = loom::data::make_scenes(source.narrow(0, 0, 6), labels.narrow(0, 0, 6), 200, 1);
  const auto other = loom::data::make_scenes(source.narrow(0, 0, 6), labels.narrow(0, 0, 6), 200, 2);
  CHECK(scenes.images.shape() == loom::Shape{200, 56, 56});
  CHECK(max_abs_diff(scenes.images, again.images) == 0.0);
  CHECK(scenes.captions == again.captions);
  CHECK(scenes.captions != other.captions);
  const auto canvas = scenes.images.to_vector<float>();
  std::set<std::size_t> counts;
  for (std::size_t k = 0; k < 200; ++k) {
    const auto& items = scenes.items[k];
    counts.insert(items.size());
    REQUIRE(!items.empty());
    for (std::size_t i = 0; i < items.size(); ++i) {
      CHECK(items[i].image < 6);
      CHECK(items[i].label == items[i].image);
      if (i > 0) CHECK(items[i - 1].cell < items[i].cell);
    }
    for (std::int64_t cell = 0; cell < 4; ++cell) {  // each cell shows its image or is empty
      float expected = 0.0f;
      for (const auto& item : items)
        if (item.cell == cell) expected = static_cast<float>(item.image + 1) / 16.0f;
      const std::size_t corner = k * 56 * 56 + static_cast<std::size_t>((cell / 2) * 28 * 56 + (cell % 2) * 28);
      CHECK(canvas[corner] == expected);
      CHECK(canvas[corner + 27 * 56 + 27] == expected);
    }
  }
  CHECK(counts == std::set<std::size_t>{1, 2, 3});
  // A three-item caption, and the text form with its comma.
  for (std::size_t k = 0; k < 200; ++k)
    if (scenes.items[k].size() == 3) {
      const auto text = loom::data::caption_text(scenes.captions[k]);
      CHECK(text.find(", ") != std::string::npos);
      CHECK(text.find(" and ") != std::string::npos);
      CHECK(text.rfind("a", 0) == 0);
      break;
    }
  CHECK(loom::data::caption_text({"an", "ankle", "boot", "at", "the", "top", "left", ",", "a", "bag"}) ==
        "an ankle boot at the top left, a bag");
  CHECK_THROWS_AS(loom::data::make_scenes(loom::zeros({3, 28, 27}), labels.narrow(0, 0, 3), 1, 1), loom::ShapeError);
  // A label past the classes: a typed error (it was std::out_of_range from the names' .at()).
  CHECK_THROWS_AS(loom::data::make_scenes(loom::zeros({1, 28, 28}), loom::from_vector(std::vector<std::int64_t>{10}, {1}), 1, 1),
                  loom::ValueError);
}

TEST_CASE("DenseToSequenceBatches: rows with teacher-forcing targets") {
  const Tensor x = loom::arange(0, 3).reshape({3, 1});  // rows 0, 1, 2
  loom::data::DenseToSequenceBatches batches(x, {{5, 6}, {7}, {8, 9, 10}},
                                             loom::data::TensorBatchOptions().batch_size(2).shuffle(false));
  REQUIRE(batches.num_batches() == 2);
  const auto b = batches.batch(0);
  REQUIRE(b.size() == 4);
  CHECK(loom_test::values(b[0]) == std::vector<double>{0, 1});
  CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 5, 6, 2, 7, 0});
  CHECK(b[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 6, 3, 7, 3, -100});
  CHECK(b[3].to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 2});
  CHECK_THROWS_AS(loom::data::DenseToSequenceBatches(x, {{1}}), loom::ShapeError);
}

TEST_CASE("read_pgm and write_pgm: a round trip, comments, 16-bit values and bad files") {
  loom_test::TempDir dir;
  const Tensor image = loom::from_vector(std::vector<float>{0.0f, 1.0f, 0.2f, 0.6f, 1.0f, 0.0f}, {2, 3});  // (2, 3)
  loom::data::write_pgm(dir.path + "/a.pgm", image);
  const Tensor back = loom::data::read_pgm(dir.path + "/a.pgm");
  CHECK(back.shape() == loom::Shape{2, 3});
  CHECK(max_abs_diff(back, image) < 0.5 / 255.0 + 1e-7);
  std::ofstream(dir.path + "/b.pgm", std::ios::binary) << "P5 # made by hand\n2 1\n65535\n" << std::string("\xff\xff\x80\x00", 4);
  const auto wide = loom::data::read_pgm(dir.path + "/b.pgm").to_vector<double>();
  CHECK(wide[0] == doctest::Approx(1.0));
  CHECK(wide[1] == doctest::Approx(32768.0 / 65535.0));
  std::ofstream(dir.path + "/c.pgm") << "P2\n2 1\n255\n0 255\n";
  CHECK(message_of<loom::IOError>([&] { loom::data::read_pgm(dir.path + "/c.pgm"); }).find("not a binary PGM") !=
        std::string::npos);
  std::ofstream(dir.path + "/d.pgm", std::ios::binary) << "P5\n4 4\n255\n" << std::string(3, '\0');
  CHECK(message_of<loom::IOError>([&] { loom::data::read_pgm(dir.path + "/d.pgm"); }).find("truncated") !=
        std::string::npos);
  CHECK_THROWS_AS(loom::data::read_pgm(dir.path + "/missing.pgm"), loom::IOError);
  // A file too large for an image is refused by its size, before it is read.
  std::ofstream(dir.path + "/huge.pgm") << "P5\n8192 8192\n65535\n";
  std::filesystem::resize_file(dir.path + "/huge.pgm", std::uint64_t{200} << 20);  // sparse
  CHECK(message_of<loom::IOError>([&] { loom::data::read_pgm(dir.path + "/huge.pgm"); }).find("is too large") !=
        std::string::npos);
}
