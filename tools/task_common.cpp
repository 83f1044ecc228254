#include "task_common.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "loom/data/files.h"
#include "loom/io.h"
#include "loom/layers/quantize.h"
#include "loom/serialization.h"
#ifdef LOOM_HAVE_DISTRIBUTED
#include "loom/distributed.h"
#endif

namespace loom::tools {

data::LabelledImages read_fashion(const RunConfig& config, const std::string& part) {
  std::vector<std::string> paths;
  for (const char* kind : {"-images-idx3-ubyte.gz", "-labels-idx1-ubyte.gz"}) {
    paths.push_back(config.data_dir + "/" + part + kind);
    if (!std::filesystem::exists(paths.back()))
      throw IOError(fmt::format("{}: {} is missing; run `bash scripts/fetch_data.sh fashion` first", config.task,
                                paths.back()));
  }
  return data::read_idx_labelled(paths[0], paths[1], 28, 28, 10);
}

Job job() {
#ifdef LOOM_HAVE_DISTRIBUTED
  return {distributed::rank(), distributed::world_size()};
#else
  return {};
#endif
}

std::unique_ptr<optim::Replicas> join_replicas(optim::Trainer& trainer, Module& model) {
#ifdef LOOM_HAVE_DISTRIBUTED
  if (distributed::world_size() == 1) return nullptr;
  auto group = std::make_unique<distributed::DataParallel>(model);
  trainer.set_replicas(group.get());
  return group;
#else
  (void)trainer, (void)model;
  return nullptr;
#endif
}

std::unique_ptr<optim::Optimizer> make_optimizer(const RunConfig& c, Module& model) {
  if (c.optimizer == "sgd")
    return std::make_unique<optim::SGD>(model.named_parameters(),
                                        optim::SGDOptions(c.lr).momentum(0.9).weight_decay(c.weight_decay));
  return std::make_unique<optim::AdamW>(model.named_parameters(), optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
}

optim::TrainerOptions trainer_options(const RunConfig& c, const std::string& monitor, const std::string& mode) {
  return optim::TrainerOptions()
      .epochs(c.epochs)
      .run_dir(c.run_dir)
      .monitor(monitor)
      .monitor_mode(mode)
      .clip_grad_norm(5.0)
      .time_limit_seconds(c.time_limit * 60.0)
      .seed(c.seed)
      .progress(c.progress);
}

void add_learning_curves(report::Report& page, const std::vector<optim::EpochMetrics>& history,
                         std::int64_t best_epoch) {
  std::map<std::string, std::vector<double>> curves;
  for (const auto& epoch : history)
    for (const auto& [name, value] : epoch.values)
      if (name != "seconds" && name != "lr") curves[name].push_back(value);
  for (auto& [name, values] : curves) page.curves.push_back({name, std::move(values)});
  page.best_epoch = best_epoch;
}

std::vector<std::pair<std::string, std::string>> summary_rows(const nlohmann::ordered_json& metrics) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [key, value] : metrics.items())
    rows.emplace_back(key, value.is_number_float() ? fmt::format("{:.4f}", value.get<double>())
                           : value.is_string()     ? value.get<std::string>()
                                                   : value.dump());
  return rows;
}

void finish_run(const RunConfig& config, const nlohmann::ordered_json& metrics, report::Report& page,
                const optim::TrainResult& result) {
  write_file_atomically(config.run_dir + "/metrics.json", metrics.dump(2) + "\n");
  if (page.title.empty()) page.title = fmt::format("loom {}: {}", config.task, config.run_dir);
  page.summary = summary_rows(metrics);
  add_learning_curves(page, result.history, result.best_epoch);
  report::write_html(page, config.run_dir + "/report.html");
  std::printf("%s\nreport: %s/report.html\n", metrics.dump(2).c_str(), config.run_dir.c_str());
}

namespace {

// A metrics.json is a few hundred bytes; anything past this is not one.
constexpr std::uint64_t max_metrics_bytes = 1 << 20;

nlohmann::ordered_json previous_metrics(const RunConfig& config) {
  const std::string path = config.run_dir + "/metrics.json";
  if (!std::filesystem::exists(path)) return nlohmann::ordered_json::object();
  const std::string text = data::read_text_file("eval", path, max_metrics_bytes);
  try {
    auto metrics = nlohmann::ordered_json::parse(text);
    return metrics.is_object() ? metrics : nlohmann::ordered_json::object();
  } catch (const nlohmann::json::exception&) {
    return nlohmann::ordered_json::object();
  }
}

}  // namespace

void load_best(const RunConfig& config, Module& model) {
  load(model, config.run_dir + "/best.safetensors");
  if (config.int8) quantize_dynamic(model);
}

int reevaluate_run(const RunConfig& config, const std::function<void(nlohmann::ordered_json& metrics)>& evaluate) {
  nlohmann::ordered_json metrics = previous_metrics(config);
  metrics["task"] = config.task;
  if (config.int8) metrics["int8"] = true;
  evaluate(metrics);
  write_file_atomically(config.run_dir + (config.int8 ? "/metrics_int8.json" : "/metrics.json"), metrics.dump(2) + "\n");
  std::printf("%s\n", metrics.dump(2).c_str());
  return 0;
}

}  // namespace loom::tools
