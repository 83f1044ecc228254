// Tasks on dense inputs: fashion (Fashion-MNIST read row by row by an LSTM: 28 steps of 28
// pixels, many-to-one; or classified from CNN features) and sp500 (next-day close of the S&P 500 from the last 30 closes,
// judged against the persistence baseline "tomorrow = today").
#include "dense_task.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "loom/data.h"
#include "loom/layers.h"
#include "loom/loom.h"
#include "loom/models/forecaster.h"
#include "loom/models/sequence_tagger.h"
#include "loom/optim.h"
#include "report.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

constexpr std::int64_t kWindow = 30;  // sp500: days of history per prediction

std::string require_file(const RunConfig& config, const std::string& name) {
  const std::string path = config.data_dir + "/" + name;
  if (!std::filesystem::exists(path))
    throw IOError(fmt::format("{}: {} is missing; run `bash scripts/fetch_data.sh {}` first", config.task, path, config.task));
  return path;
}

// ---- fashion ----------------------------------------------------------------------------------

const std::vector<std::string> kFashionClasses = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                  "sandal", "shirt", "sneaker", "bag", "ankle boot"};

// The CNN-feature classifier: conv 32 - conv 64 (each conv, batch norm, relu, 2x2 max pool)
// -> the (64, 7, 7) feature map -> dropout -> linear 128 -> relu -> linear over the classes.
struct CNNClassifier : Module {
  std::shared_ptr<CNNEncoder> encoder;
  std::shared_ptr<Linear> hidden, out;
  double dropout_p;
  explicit CNNClassifier(double dropout) : dropout_p(dropout) {
    encoder = register_module("encoder", std::make_shared<CNNEncoder>(
                                             CNNEncoderOptions(1, {32, 64}).output(CNNEncoderOutput::FeatureMap)));
    hidden = register_module("hidden", std::make_shared<Linear>(64 * 7 * 7, 128));
    out = register_module("out", std::make_shared<Linear>(128, 10));
  }
  Tensor forward(const Tensor& images) {  // (N, 28, 28) -> (N, 10)
    const Tensor features = encoder->forward(images.unsqueeze(1)).flatten(1);  // (N, 3136)
    return out->forward(relu(hidden->forward(dropout(features, dropout_p, is_training()))));
  }
};

// Row-by-row LSTM or CNN: one interface for the fashion task.
struct FashionModel {
  std::unique_ptr<models::SequenceTagger> rows;
  std::unique_ptr<CNNClassifier> cnn;
  Module& module() { return rows ? static_cast<Module&>(*rows) : static_cast<Module&>(*cnn); }
  Tensor logits(const Tensor& images) { return rows ? rows->classify(images) : cnn->forward(images); }
};

// Predicted classes of images (N, 28, 28), in batches without a graph.
std::vector<std::int64_t> classify_images(FashionModel& model, const Tensor& images) {
  NoGradGuard no_grad;
  model.module().eval();
  std::vector<std::int64_t> out;
  for (std::int64_t start = 0; start < images.size(0); start += 1000) {
    const auto count = std::min<std::int64_t>(1000, images.size(0) - start);
    const auto best = argmax(model.logits(images.narrow(0, start, count)), 1).to_vector<std::int64_t>();
    out.insert(out.end(), best.begin(), best.end());
  }
  return out;
}

// The run's model as configured, initialised from the global generator (training seeds it first).
FashionModel fashion_model(const RunConfig& config) {
  FashionModel fashion;
  if (config.model == "cnn")
    fashion.cnn = std::make_unique<CNNClassifier>(config.dropout);
  else
    fashion.rows = std::make_unique<models::SequenceTagger>(
        models::SequenceTaggerOptions(10).input_features(28).cell(config.cell).hidden_size(config.hidden)
            .num_layers(config.layers).bidirectional(config.bidirectional).dropout(config.dropout));
  return fashion;
}

// `loom eval` (and `--int8`): the best epoch's test accuracy and macro F1 again.
int eval_fashion(const RunConfig& config) {
  const auto [test_images, test_labels] = read_fashion(config, "t10k");
  FashionModel fashion = fashion_model(config);
  load_best(config, fashion.module());
  const auto report = data::classification_report(classify_images(fashion, test_images),
                                                  test_labels.to_vector<std::int64_t>(), 10);
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    metrics["test_accuracy"] = report.accuracy;
    metrics["test_macro_f1"] = report.macro_f1;
  });
}

int train_fashion(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  const auto [images, labels] = read_fashion(config, "train");  // (60000, 28, 28), (60000)
  const auto [test_images, test_label_tensor] = read_fashion(config, "t10k");
  const auto test_labels = test_label_tensor.to_vector<std::int64_t>();
  const std::int64_t validation = images.size(0) / 12;  // the last 5,000 of 60,000 choose the best epoch
  const std::int64_t train_count = images.size(0) - validation;
  if (validation < 1 || test_labels.empty())
    throw IOError(fmt::format("fashion: {} holds {} training and {} test images; it needs at least 12 and 1",
                              config.data_dir, images.size(0), test_labels.size()));
  manual_seed(config.seed);
  FashionModel fashion = fashion_model(config);
  Module& model = fashion.module();
  const Job process = job();
  data::TensorBatches train(images.narrow(0, 0, train_count), labels.narrow(0, 0, train_count),
                            data::TensorBatchOptions().batch_size(config.batch).num_replicas(process.size).rank(process.rank));
  const Tensor val_images = images.narrow(0, train_count, validation);
  const auto val_labels = labels.narrow(0, train_count, validation).to_vector<std::int64_t>();
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_accuracy", "max"));
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const auto result = trainer.fit(
      train, [&](const optim::Batch& b) { return cross_entropy(fashion.logits(b[0]), b[1]); },
      [&] { return std::map<std::string, double>{{"val_accuracy", data::accuracy(classify_images(fashion, val_images), val_labels)}}; });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files
  load_best(config, model);
  const auto predicted = classify_images(fashion, test_images);
  const auto report = data::classification_report(predicted, test_labels, 10);
  nlohmann::ordered_json metrics;
  metrics["task"] = config.model == "cnn" ? "fashion (CNN features)" : "fashion (row-by-row LSTM)";
  metrics["test_examples"] = test_labels.size();
  metrics["test_accuracy"] = report.accuracy;
  metrics["test_macro_f1"] = report.macro_f1;
  metrics["best_epoch"] = result.best_epoch;
  metrics["train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report::Report page;
  page.class_names = kFashionClasses;
  page.confusion = report.confusion;
  std::vector<bool> correct;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct.push_back(predicted[i] == test_labels[i]);
  page.pictures_title = "Test images (mistakes first)";
  for (std::size_t i : report::pick_samples(correct, 24, 6)) {
    const auto pixels = test_images.narrow(0, static_cast<std::int64_t>(i), 1).to_vector<double>();
    page.pictures.push_back({test_images.size(2), test_images.size(1), pixels,
                             {"predicted: " + kFashionClasses[predicted[i]], "true: " + kFashionClasses[test_labels[i]],
                              fmt::format("test image {}", i)},
                             correct[i]});
  }
  finish_run(config, metrics, page, result);
  return 0;
}

// ---- sp500 ------------------------------------------------------------------------------------

// Windows of percent changes relative to each window's last close, so the model sees the same
// scale in 2003 and in 2019 (prices trebled; a standardizer fitted on the early years leaves the
// late ones far outside what the network saw). x (N, 30, 1), y (N, 1): target day i + 30.
data::Windows relative_windows(const std::vector<double>& close) {
  const auto n = static_cast<std::int64_t>(close.size()) - kWindow;
  std::vector<float> x, y;
  for (std::int64_t i = 0; i < n; ++i) {
    const double last = close[i + kWindow - 1];
    for (std::int64_t t = 0; t < kWindow; ++t) x.push_back(static_cast<float>(100.0 * (close[i + t] / last - 1.0)));
    y.push_back(static_cast<float>(100.0 * (close[i + kWindow] / last - 1.0)));
  }
  return {from_vector(x, {n, kWindow, 1}), from_vector(y, {n, 1})};
}

int train_sp500(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = require_file(config, "sp500-2000.csv");
  const auto close = data::read_daily_closes(path);
  const auto test_start = static_cast<std::size_t>(std::llround(0.8 * static_cast<double>(close.size())));  // last 20% held out
  const auto validation_start = static_cast<std::size_t>(std::llround(0.7 * static_cast<double>(close.size())));
  // Window k predicts day k + 30: windows predicting days before validation_start train, those
  // in [validation_start, test_start) validate, the rest test.
  const std::int64_t train_count = static_cast<std::int64_t>(validation_start) - kWindow;
  const std::int64_t val_count = static_cast<std::int64_t>(test_start - validation_start);
  const std::int64_t test_count = static_cast<std::int64_t>(close.size()) - kWindow - train_count - val_count;
  if (train_count < 1 || val_count < 1 || test_count < 1)
    throw IOError(fmt::format("sp500: {} holds {} days: {} training, {} validation and {} test windows of {} days; "
                              "every split needs some (44 days at least)", path, close.size(),
                              train_count, val_count, test_count, kWindow));
  const auto all = relative_windows(close);
  manual_seed(config.seed);
  models::Forecaster model(models::ForecasterOptions(1).cell(config.cell).hidden_size(config.hidden)
                               .num_layers(config.layers).dropout(config.dropout));
  const Job process = job();
  data::TensorBatches train(all.x.narrow(0, 0, train_count), all.y.narrow(0, 0, train_count),
                            data::TensorBatchOptions().batch_size(config.batch).num_replicas(process.size).rank(process.rank));
  auto prices = [&](std::int64_t first, std::int64_t count) {  // next-day closes, in index points
    NoGradGuard no_grad;
    model.eval();
    const auto change = model.forward(all.x.narrow(0, first, count)).reshape({-1}).to_vector<double>();
    std::vector<double> out;
    for (std::int64_t k = 0; k < count; ++k) out.push_back(close[first + k + kWindow - 1] * (1.0 + change[k] / 100.0));
    return out;
  };
  const std::vector<double> val_actual(close.begin() + validation_start, close.begin() + test_start);
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_rmse", "min"));
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const auto result = trainer.fit(
      train, [&](const optim::Batch& b) { return mse_loss(model.forward(b[0]), b[1]); },
      [&] { return std::map<std::string, double>{{"val_rmse", data::rmse(prices(train_count, val_count), val_actual)}}; });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files
  load_best(config, model);
  const auto predicted = prices(train_count + val_count, test_count);
  const std::vector<double> actual(close.begin() + test_start, close.end());
  const std::vector<double> persistence(close.begin() + test_start - 1, close.end() - 1);  // tomorrow = today
  nlohmann::ordered_json metrics;
  metrics["task"] = "sp500 next-day close (last 20% of days held out)";
  metrics["test_days"] = actual.size();
  metrics["test_rmse"] = data::rmse(predicted, actual);
  metrics["test_mae"] = data::mae(predicted, actual);
  metrics["test_mape_percent"] = data::mape(predicted, actual);
  metrics["persistence_rmse"] = data::rmse(persistence, actual);
  metrics["persistence_mae"] = data::mae(persistence, actual);
  metrics["rmse_ratio_to_persistence"] = metrics["test_rmse"].get<double>() / metrics["persistence_rmse"].get<double>();
  metrics["beats_persistence"] = metrics["rmse_ratio_to_persistence"].get<double>() < 1.0;
  metrics["best_epoch"] = result.best_epoch;
  metrics["train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report::Report page;
  page.forecast = {{"actual", actual}, {"predicted", predicted}, {"persistence", persistence}};
  finish_run(config, metrics, page, result);
  return 0;
}

}  // namespace

const Task& fashion_task() {
  static const Task task{
      "fashion",
      "10 kinds of clothing in Fashion-MNIST images, read row by row (rows) or by a CNN (cnn)",
      /*data=*/"",
      /*fetch=*/"fashion",
      /*models=*/{"rows", "cnn"},
      [](RunConfig& config, const IsUnset& unset) {  // 28 rows of 28 pixels, 55,000 training images
        if (unset("hidden")) config.hidden = 128;
        if (unset("bidirectional")) config.bidirectional = false;
        if (unset("dropout")) config.dropout = config.model == "cnn" ? 0.3 : 0.0;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("epochs")) config.epochs = config.model == "cnn" ? 5 : 8;
        if (unset("batch")) config.batch = 128;
      },
      train_fashion,
      eval_fashion,
      /*inference=*/nullptr};
  return task;
}

const Task& sp500_task() {
  static const Task task{
      "sp500",
      "the next day's close of the S&P 500 from the last 30 days (2000-2020)",
      /*data=*/"",
      /*fetch=*/"sp500",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 30 days in, the next close out
        if (unset("hidden")) config.hidden = 32;
        if (unset("bidirectional")) config.bidirectional = false;
        if (unset("dropout")) config.dropout = 0.0;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("epochs")) config.epochs = 30;
        if (unset("lr")) config.lr = 1e-3;
      },
      train_sp500,
      /*eval=*/nullptr,
      /*inference=*/nullptr};
  return task;
}

}  // namespace loom::tools
