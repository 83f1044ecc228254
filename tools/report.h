#pragma once
/// The run report: one self-contained HTML page (inline SVG and CSS, no scripts, no network)
/// with the key figures, learning curves (a panel for the losses and one per other metric, the
/// best epoch marked), tables of figures, a confusion matrix, attention heatmaps, pictures with
/// lines under them (captions, or predicted and true labels; mistakes first; grayscale PNG data
/// URIs), sample predictions (mistakes first), a forecast plot against the actual series and the
/// persistence baseline, and text samples. `loom train` writes it as RUN_DIR/report.html.
///
///     loom::report::Report r;
///     r.title = "sentiment";
///     r.curves = {{"train_loss", {0.7, 0.5, 0.4}}, {"val_loss", {0.68, 0.55, 0.5}}};
///     loom::report::write_html(r, "runs/sentiment/report.html");
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace loom::report {

/// A named series over epochs (or time steps).
struct Series {
  std::string name;
  std::vector<double> values;
};

struct Sample {
  std::string input;
  std::string predicted;
  std::string actual;
  bool correct = false;
};

/// A table of figures, e.g. error rates per decoding method.
struct Table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// Attention weights of one example: values[row][column] in [0, 1], a row per output step
/// (target token) and a column per input position (source token).
struct Heatmap {
  std::string title;
  std::vector<std::string> columns;  ///< source tokens
  std::vector<std::string> rows;     ///< target tokens
  std::vector<std::vector<double>> values;
};

/// A grayscale image with lines of text under it (an image caption and its reference, or the
/// predicted and the true label).
struct Picture {
  std::int64_t width = 0, height = 0;
  std::vector<double> pixels;      ///< height * width values in [0, 1], row by row (1 = white)
  std::vector<std::string> lines;  ///< under the image, in order
  bool correct = false;
};

struct Report {
  std::string title;
  /// The figures that matter, in order: {"test accuracy", "0.912"}.
  std::vector<std::pair<std::string, std::string>> summary;
  /// Learning curves, x = epoch 1..n, drawn as curve_panels groups them.
  std::vector<Series> curves;
  /// The best epoch (1-based, as the trainer's monitor chose it), marked in every curve panel;
  /// 0 marks none.
  std::int64_t best_epoch = 0;
  std::vector<Table> tables;
  /// Confusion matrix: rows are the actual class, columns the predicted one.
  std::vector<std::string> class_names;
  std::vector<std::vector<std::int64_t>> confusion;
  /// Attention heatmaps (source x target), drawn as SVG grids.
  std::vector<Heatmap> heatmaps;
  /// Images with their lines; the page shows the wrong ones first, under this heading.
  std::vector<Picture> pictures;
  std::string pictures_title = "Pictures (mistakes first)";
  /// Sample predictions; the page shows the misclassified ones first.
  std::vector<Sample> samples;
  /// Forecasts over the held-out period: e.g. actual, predicted and the persistence baseline.
  std::vector<Series> forecast;
  /// Free text samples (generated text, captions...).
  std::vector<std::string> text_samples;
};

/// Which predictions to show, given whether each is correct: the first `mistakes` wrong ones
/// and `right` correct ones spread evenly over the set, in index order.
std::vector<std::size_t> pick_samples(const std::vector<bool>& correct, std::size_t mistakes, std::size_t right);

/// The learning-curve panels, each drawn on its own y axis: every loss (a name ending in "loss")
/// together first, then every other metric alone (accuracy, error rate, perplexity, BLEU...), in
/// order. Counts (names ending in "_examples", "_steps" or "_count") are left out: they are not
/// on the scale of any metric.
std::vector<std::vector<Series>> curve_panels(const std::vector<Series>& curves);

/// A grayscale image as a PNG file (8-bit, zlib-compressed), e.g. for a data URI. ValueError
/// unless both sides are positive (at most 2^31 - 1, PNG's limit) and pixels has width * height
/// values, in [0, 1] (clamped).
std::string grayscale_png(std::int64_t width, std::int64_t height, const std::vector<double>& pixels);

/// The page as a string.
std::string render_html(const Report& report);
/// Writes the page atomically.
void write_html(const Report& report, const std::string& path);

}  // namespace loom::report
