// The training loop: epochs, progress, checkpoints, early stopping and exact resume.
#include "loom/optim/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "loom/autograd.h"
#include "loom/optim/clip.h"
#include "loom/serialization.h"

namespace loom::optim {

namespace {

using Clock = std::chrono::steady_clock;

// Redraws one progress line at most every 0.1 s on a terminal; elsewhere prints nothing until
// the epoch's summary line, so logs stay readable.
class Progress {
 public:
  Progress(bool enabled, std::int64_t epoch, std::int64_t epochs, std::int64_t batches)
      : printing_(enabled), drawing_(enabled && ::isatty(::fileno(stderr))), epoch_(epoch), epochs_(epochs),
        batches_(batches) {}

  void update(std::int64_t done, double running_loss) {
    if (!drawing_) return;
    const auto now = Clock::now();
    if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    const double eta = rate > 0 ? static_cast<double>(batches_ - done) / rate : 0.0;
    constexpr int width = 24;
    const int filled = batches_ ? static_cast<int>(width * done / batches_) : width;
    std::fprintf(stderr, "\repoch %ld/%ld [%s%s] %ld/%ld  %.1f batch/s  ETA %.0fs  loss %.4f ",
                 static_cast<long>(epoch_), static_cast<long>(epochs_), std::string(filled, '=').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long>(done), static_cast<long>(batches_),
                 rate, eta, running_loss);
    std::fflush(stderr);
  }

  void finish(const std::string& summary) {
    if (printing_) std::fprintf(stderr, "%s%s\n", drawing_ ? "\r\033[K" : "", summary.c_str());
  }

 private:
  bool printing_, drawing_;
  std::int64_t epoch_, epochs_, batches_;
  Clock::time_point start_ = Clock::now(), last_draw_{};
};

std::string summary_line(const EpochMetrics& metrics, std::int64_t epochs) {
  std::string line = fmt::format("epoch {}/{}", metrics.epoch, epochs);
  for (const auto& [name, value] : metrics.values) line += fmt::format("  {} {:.5g}", name, value);
  return line;
}

// The name of the first parameter whose gradient holds NaN or inf, or "" when all are finite.
std::string first_non_finite_gradient(const Module& model) {
  for (const auto& [name, parameter] : model.named_parameters()) {
    const Tensor grad = parameter.grad();
    if (!grad.defined()) continue;
    const bool finite = grad.dtype() == Dtype::Float64
                            ? std::all_of(grad.data<double>(), grad.data<double>() + grad.numel(),
                                          [](double v) { return std::isfinite(v); })
                            : std::all_of(grad.data<float>(), grad.data<float>() + grad.numel(),
                                          [](float v) { return std::isfinite(v); });
    if (!finite) return name;
  }
  return "";
}

nlohmann::json history_to_json(const std::vector<EpochMetrics>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : history) out.push_back({{"epoch", m.epoch}, {"values", m.values}});
  return out;
}

}  // namespace

Trainer::Trainer(Module& model, Optimizer& optimizer, TrainerOptions options)
    : model_(model), optimizer_(optimizer), options_(std::move(options)), generator_(options_.seed()) {
  if (options_.epochs() < 0) throw ValueError(fmt::format("Trainer: epochs must be >= 0, got {}", options_.epochs()));
  if (options_.monitor_mode() != "min" && options_.monitor_mode() != "max")
    throw ValueError(fmt::format("Trainer: monitor_mode must be \"min\" or \"max\", got \"{}\"", options_.monitor_mode()));
  if (options_.on_non_finite() != "stop" && options_.on_non_finite() != "skip")
    throw ValueError(fmt::format("Trainer: on_non_finite must be \"stop\" or \"skip\", got \"{}\"",
                                 options_.on_non_finite()));
  manual_seed(options_.seed());
  result_.best_value = options_.monitor_mode() == "min" ? INFINITY : -INFINITY;
  if (!options_.run_dir().empty()) std::filesystem::create_directories(options_.run_dir());
}

bool Trainer::improved(double value) const {
  return options_.monitor_mode() == "min" ? value < result_.best_value : value > result_.best_value;
}

void Trainer::save_checkpoint(const std::string& path) const {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : model_.state_dict()) tensors["model." + name] = t;
  for (const auto& [name, t] : optimizer_.state_dict()) tensors["optimizer." + name] = t;
  nlohmann::json state = {
      {"epoch", epoch_},
      {"rng_default", default_generator().state()},
      {"rng_trainer", generator_.state()},
      {"best_epoch", result_.best_epoch},
      {"best_value", result_.best_value},
      {"epochs_without_improvement", epochs_without_improvement_},
      {"history", history_to_json(result_.history)}};
  std::vector<double> lrs;
  for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.lr);
  state["lrs"] = lrs;
  if (scheduler_) state["scheduler_epoch"] = scheduler_->epoch();
  if (plateau_) state["plateau"] = plateau_->state();
  save_safetensors(tensors, path, {{"loom_trainer_state", state.dump()}});
}

bool Trainer::resume() {
  if (options_.run_dir().empty()) return false;
  const std::string path = options_.run_dir() + "/last.safetensors";
  if (!std::filesystem::exists(path)) return false;
  SafetensorsFile file = load_safetensors(path);
  std::map<std::string, Tensor> model_state, optimizer_state;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("model.", 0) == 0) model_state[name.substr(6)] = t;
    else if (name.rfind("optimizer.", 0) == 0) optimizer_state[name.substr(10)] = t;
  }
  auto it = file.metadata.find("loom_trainer_state");
  if (it == file.metadata.end()) throw IOError(fmt::format("Trainer::resume: '{}' is not a training checkpoint", path));
  nlohmann::json state;
  // An integer of the state; a float there (1e300) is a malformed checkpoint, not a conversion
  // with undefined behaviour.
  const auto integer = [&](const nlohmann::json& object, const char* key) {
    const auto& value = object.at(key);
    if (!value.is_number_integer())
      throw IOError(fmt::format("Trainer::resume: '{}': expected an integer {}, got {}", path, key, value.dump()));
    return value.get<std::int64_t>();
  };
  try {
    state = nlohmann::json::parse(it->second);
    model_.load_state_dict(model_state);
    optimizer_.load_state_dict(optimizer_state);
    epoch_ = integer(state, "epoch");
    if (epoch_ < 0) throw IOError(fmt::format("Trainer::resume: '{}': expected an epoch >= 0, got {}", path, epoch_));
    default_generator().set_state(state.at("rng_default").get<std::string>());
    generator_.set_state(state.at("rng_trainer").get<std::string>());
    result_.best_epoch = integer(state, "best_epoch");
    result_.best_value = state.at("best_value").is_null() ? (options_.monitor_mode() == "min" ? INFINITY : -INFINITY)
                                                          : state.at("best_value").get<double>();
    epochs_without_improvement_ = integer(state, "epochs_without_improvement");
    result_.history.clear();
    for (const auto& entry : state.at("history"))
      result_.history.push_back({integer(entry, "epoch"), entry.at("values").get<std::map<std::string, double>>()});
    const auto lrs = state.at("lrs").get<std::vector<double>>();
    auto& groups = optimizer_.param_groups();
    for (std::size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].lr = lrs[i];
    if (scheduler_ && state.contains("scheduler_epoch")) scheduler_->set_epoch(integer(state, "scheduler_epoch"));
    if (plateau_ && state.contains("plateau")) plateau_->restore(state.at("plateau").get<std::vector<double>>());
  } catch (const nlohmann::json::exception& e) {
    throw IOError(fmt::format("Trainer::resume: '{}' has a malformed trainer state: {}", path, e.what()));
  }
  // The log keeps exactly the epochs the checkpoint knows (a killed epoch's line is dropped).
  std::string log;
  for (const auto& m : result_.history) log += nlohmann::json({{"epoch", m.epoch}, {"values", m.values}}).dump() + "\n";
  write_file_atomically(options_.run_dir() + "/metrics.jsonl", log);
  return true;
}

void Trainer::append_metrics(const EpochMetrics& metrics) const {
  if (options_.run_dir().empty()) return;
  std::ofstream log(options_.run_dir() + "/metrics.jsonl", std::ios::app);
  log << nlohmann::json({{"epoch", metrics.epoch}, {"values", metrics.values}}).dump() << "\n";
}

TrainResult Trainer::fit(BatchSource& train, const LossFunction& loss_function, const Validation& validate) {
  for (std::int64_t epoch = epoch_ + 1; epoch <= options_.epochs(); ++epoch) {
    const auto start = Clock::now();
    model_.train();
    train.start_epoch(epoch, generator_);
    const std::int64_t batches = train.num_batches();
    Progress progress(options_.progress(), epoch, options_.epochs(), batches);
    double total = 0.0;
    std::int64_t steps_taken = 0, steps_skipped = 0;
    for (std::int64_t i = 0; i < batches; ++i) {
      const Batch batch = train.batch(i);
      optimizer_.zero_grad();
      Tensor loss = loss_function(batch);
      const double value = loss.item();
      loss.backward();
      const std::string bad_gradient = first_non_finite_gradient(model_);
      if (!std::isfinite(value) || !bad_gradient.empty()) {
        if (options_.on_non_finite() == "skip") {
          ++steps_skipped;
          continue;
        }
        const auto describe = [](double v) { return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf"; };
        std::string what = std::isfinite(value) ? "" : fmt::format("the loss became {}", describe(value));
        if (!bad_gradient.empty())
          what += fmt::format("{}the first non-finite gradient is {}'s", what.empty() ? "" : " and ", bad_gradient);
        throw ValueError(fmt::format("Trainer: step {} (epoch {}, batch {}): {}; lower the learning rate, clip "
                                     "gradients (clip_grad_norm), check the data, or skip such steps "
                                     "(on_non_finite(\"skip\"))",
                                     (epoch - 1) * batches + i + 1, epoch, i + 1, what));
      }
      if (options_.clip_grad_norm() > 0) clip_grad_norm(model_.parameters(), options_.clip_grad_norm());
      optimizer_.step();
      total += value;
      ++steps_taken;
      progress.update(i + 1, total / static_cast<double>(steps_taken));
    }
    result_.skipped_steps += steps_skipped;
    EpochMetrics metrics;
    metrics.epoch = epoch;
    metrics.values["train_loss"] = steps_taken ? total / static_cast<double>(steps_taken) : 0.0;
    if (options_.on_non_finite() == "skip") metrics.values["skipped_steps"] = static_cast<double>(steps_skipped);
    metrics.values["lr"] = optimizer_.param_groups().empty() ? 0.0 : optimizer_.param_groups()[0].lr;
    if (validate) {
      model_.eval();
      NoGradGuard no_grad;
      for (const auto& [name, value] : validate()) metrics.values[name] = value;
      model_.train();
    }
    metrics.values["seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    auto monitored = metrics.values.find(options_.monitor());
    if (monitored == metrics.values.end())
      throw ValueError(fmt::format("Trainer: the monitored metric '{}' was not computed (have: train_loss, lr{})",
                                   options_.monitor(), validate ? " and the validation metrics" : ""));
    if (scheduler_) scheduler_->step();
    if (plateau_) plateau_->step(monitored->second);

    epoch_ = epoch;
    result_.history.push_back(metrics);
    if (improved(monitored->second)) {
      result_.best_value = monitored->second;
      result_.best_epoch = epoch;
      epochs_without_improvement_ = 0;
      if (!options_.run_dir().empty()) save(model_, options_.run_dir() + "/best.safetensors");
    } else {
      ++epochs_without_improvement_;
    }
    progress.finish(summary_line(metrics, options_.epochs()));
    append_metrics(metrics);
    if (!options_.run_dir().empty()) save_checkpoint(options_.run_dir() + "/last.safetensors");
    if (options_.early_stopping_patience() > 0 && epochs_without_improvement_ >= options_.early_stopping_patience()) {
      result_.stopped_early = true;
      break;
    }
  }
  return result_;
}

}  // namespace loom::optim
