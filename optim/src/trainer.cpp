// The training loop: epochs, progress, checkpoints, early stopping and exact resume.
#include "loom/optim/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "detail/progress.h"
#include "loom/autograd.h"
#include "loom/data/files.h"
#include "loom/optim/clip.h"
#include "loom/io.h"
#include "loom/serialization.h"

namespace loom::optim {

namespace {

using Clock = std::chrono::steady_clock;

// The most a checkpoint of `model` may hold: its state, three optimizer buffers the size of each
// tensor (Adam keeps two) with a step count, and the largest header (the trainer state).
std::uint64_t max_checkpoint_bytes(const Module& model) {
  std::uint64_t bytes = 8 + max_safetensors_header_bytes;
  for (const auto& [name, tensor] : model.state_dict())
    bytes += 4 * static_cast<std::uint64_t>(tensor.numel()) * dtype_size(tensor.dtype()) + sizeof(std::int64_t);
  return bytes;
}

// A metrics log holds a line of ~200 bytes an epoch; anything past this is not one.
constexpr std::uint64_t max_metrics_log_bytes = std::uint64_t(1) << 28;

// JSON has no NaN or infinity (nlohmann would write null, which reads back as no number): a
// non-finite figure, such as a diverged run's validation loss, is written as a string.
nlohmann::json number_json(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

// What number_json wrote; nullopt for anything else.
std::optional<double> number_from_json(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (value == "inf") return std::numeric_limits<double>::infinity();
  if (value == "-inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

// A JSON integer in [low, high] (high >= 0), or nullopt. Checked before any conversion: get of a
// float (1e41) is undefined behaviour, and a count near INT64_MAX would overflow when next counted.
std::optional<std::int64_t> integer_in(const nlohmann::json& value, std::int64_t low, std::int64_t high) {
  const bool in_range = value.is_number_unsigned() ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(high)
                                                   : value.is_number_integer() && value.get<std::int64_t>() <= high;
  if (!in_range || value.get<std::int64_t>() < low) return std::nullopt;
  return value.get<std::int64_t>();
}

// One epoch as the checkpoint's history and the metrics log hold it.
nlohmann::json epoch_json(const EpochMetrics& metrics) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, value] : metrics.values) values[name] = number_json(value);
  return {{"epoch", metrics.epoch}, {"values", values}};
}

// An epoch's values as epoch_json wrote them; nullopt when `values` is not an object of numbers.
std::optional<std::map<std::string, double>> values_from_json(const nlohmann::json& values) {
  if (!values.is_object()) return std::nullopt;
  std::map<std::string, double> out;
  for (const auto& [name, value] : values.items()) {
    const auto number = number_from_json(value);
    if (!number) return std::nullopt;
    out[name] = *number;
  }
  return out;
}

std::string log_line(const EpochMetrics& metrics) { return epoch_json(metrics).dump() + "\n"; }

std::string summary_line(const EpochMetrics& metrics, std::int64_t epochs, bool best) {
  std::string line = fmt::format("epoch {}/{}", metrics.epoch, epochs);
  for (const auto& [name, value] : metrics.values) line += fmt::format("  {} {:.5g}", name, value);
  return best ? line + "  (best so far)" : line;
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
  for (const auto& m : history) out.push_back(epoch_json(m));
  return out;
}

}  // namespace

Trainer::Trainer(Module& model, Optimizer& optimizer, TrainerOptions options)
    : model_(model), optimizer_(optimizer), options_(std::move(options)), generator_(options_.seed()) {
  if (options_.epochs() < 0) throw ValueError(fmt::format("Trainer: epochs must be >= 0, got {}", options_.epochs()));
  if (options_.monitor_mode() != "min" && options_.monitor_mode() != "max")
    throw ValueError(fmt::format("Trainer: monitor_mode must be \"min\" or \"max\", got \"{}\"", options_.monitor_mode()));
  if (!(options_.time_limit_seconds() >= 0.0))
    throw ValueError(fmt::format("Trainer: time_limit_seconds must be >= 0, got {}", options_.time_limit_seconds()));
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
      {"best_value", number_json(result_.best_value)},
      {"epochs_without_improvement", epochs_without_improvement_},
      {"history", history_to_json(result_.history)}};
  std::vector<double> lrs;
  for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.lr);
  state["lrs"] = lrs;
  if (scheduler_) state["scheduler_epoch"] = scheduler_->epoch();
  if (plateau_) {
    state["plateau"] = nlohmann::json::array();
    state["plateau_metric"] = plateau_metric_;
    for (double value : plateau_->state()) state["plateau"].push_back(number_json(value));
  }
  save_safetensors(tensors, path, {{"loom_trainer_state", state.dump()}});
}

bool Trainer::resume() {
  if (options_.run_dir().empty()) return false;
  const std::string path = options_.run_dir() + "/last.safetensors";
  // Replica 0 reads the checkpoint and sends its bytes: the others may not share its disk, and
  // may be more or fewer than when it was written.
  const bool found = is_root() && std::filesystem::exists(path);
  if (found && !std::filesystem::is_regular_file(path))
    throw IOError(fmt::format("Trainer::resume: expected '{}' to be a regular file, it is not", path));
  // Sized before it is read: a sparse or hostile file must not decide what is allocated.
  std::string bytes = found ? data::read_text_file("Trainer::resume", path, max_checkpoint_bytes(model_)) : std::string();
  if (replicas_) {
    if (replicas_->sum({found ? 1.0 : 0.0})[0] == 0.0) return false;
    replicas_->broadcast(bytes);
  } else if (!found) {
    return false;
  }
  SafetensorsFile file = parse_safetensors(bytes, path);
  std::map<std::string, Tensor> model_state, optimizer_state;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("model.", 0) == 0) model_state[name.substr(6)] = t;
    else if (name.rfind("optimizer.", 0) == 0) optimizer_state[name.substr(10)] = t;
  }
  auto it = file.metadata.find("loom_trainer_state");
  if (it == file.metadata.end()) throw IOError(fmt::format("Trainer::resume: '{}' is not a training checkpoint", path));
  nlohmann::json state;
  // An integer of the state in [low, high]; anything else is a malformed checkpoint.
  const auto integer = [&](const nlohmann::json& object, const char* key, std::int64_t low, std::int64_t high) {
    const auto& value = object.at(key);
    const auto number = integer_in(value, low, high);
    if (!number)
      throw IOError(fmt::format("Trainer::resume: '{}': expected an integer {} in [{}, {}], got {}", path, key, low,
                                high, value.dump()));
    return *number;
  };
  constexpr std::int64_t max_epochs = std::int64_t(1) << 40;
  try {
    state = nlohmann::json::parse(it->second);
    model_.load_state_dict(model_state);
    optimizer_.load_state_dict(optimizer_state);
    epoch_ = integer(state, "epoch", 0, max_epochs);
    default_generator().set_state(state.at("rng_default").get<std::string>());
    generator_.set_state(state.at("rng_trainer").get<std::string>());
    result_.best_epoch = integer(state, "best_epoch", 0, epoch_);
    // null: a checkpoint written before non-finite figures were strings, with no best yet
    const auto best_value = state.at("best_value").is_null() ? std::optional<double>(options_.monitor_mode() == "min" ? INFINITY : -INFINITY)
                                                             : number_from_json(state.at("best_value"));
    if (!best_value)
      throw IOError(fmt::format("Trainer::resume: '{}': expected a number for best_value, got {}", path,
                                state.at("best_value").dump()));
    result_.best_value = *best_value;
    epochs_without_improvement_ = integer(state, "epochs_without_improvement", 0, epoch_);
    result_.history.clear();
    for (const auto& entry : state.at("history")) {
      const auto values = values_from_json(entry.at("values"));
      if (!values)
        throw IOError(fmt::format("Trainer::resume: '{}': expected an epoch's values to map names to numbers, got {}",
                                  path, entry.at("values").dump()));
      result_.history.push_back({integer(entry, "epoch", 1, epoch_), *values});
    }
    const auto lrs = state.at("lrs").get<std::vector<double>>();
    auto& groups = optimizer_.param_groups();
    for (std::size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].lr = lrs[i];
    if (scheduler_ && state.contains("scheduler_epoch")) scheduler_->set_epoch(integer(state, "scheduler_epoch", 0, max_epochs));
    if (plateau_ && state.contains("plateau")) {
      // A best loss restored into a plateau on BLEU (or the reverse) would judge every epoch by
      // the wrong figure: a run keeps the plateau it started with.
      const std::string saved_metric = state.value("plateau_metric", std::string());
      if (saved_metric != plateau_metric_)
        throw IOError(fmt::format("Trainer::resume: '{}' was trained with a plateau on {}, this run's plateau "
                                  "steps on {}; resume with the same schedule or start a new run folder", path,
                                  saved_metric.empty() ? "the monitored metric" : "'" + saved_metric + "'",
                                  plateau_metric_.empty() ? "the monitored metric" : "'" + plateau_metric_ + "'"));
      const auto& saved = state.at("plateau");
      const auto malformed = [&](const std::string& why) {
        return IOError(fmt::format("Trainer::resume: '{}': the plateau's state {}: {}", path, saved.dump(), why));
      };
      if (!saved.is_array()) throw malformed("expected a list of numbers");
      std::vector<double> plateau_state;
      for (const auto& value : saved) {
        const auto number = number_from_json(value);
        if (!number || std::isnan(*number)) throw malformed("expected a list of numbers");
        plateau_state.push_back(*number);
      }
      try {
        plateau_->restore(plateau_state);
      } catch (const ValueError& e) {
        throw malformed(e.what());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw IOError(fmt::format("Trainer::resume: '{}' has a malformed trainer state: {}", path, e.what()));
  }
  return true;
}

void Trainer::start_replicas() {
  std::vector<Tensor> state;
  for (const auto& [name, tensor] : model_.state_dict()) state.push_back(tensor);
  replicas_->broadcast(state);
  // The same dropout masks on every replica's rows would correlate them: each replica draws
  // from its own stream, derived from the shared state.
  if (replicas_->rank() > 0)
    default_generator().seed(default_generator().next_u64() ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(replicas_->rank())));
}

std::map<std::string, double> Trainer::average_over_replicas(const std::map<std::string, double>& values) {
  const auto examples = values.find(validation_examples_key);
  const double weight = examples == values.end() ? 1.0 : examples->second;
  std::vector<double> sums;  // weighted values in the map's (sorted, shared) order, then the weight
  for (const auto& [name, value] : values)
    if (name != validation_examples_key) sums.push_back(weight * value);
  sums.push_back(weight);
  sums = replicas_->sum(sums);
  std::map<std::string, double> out;
  std::size_t k = 0;
  for (const auto& [name, value] : values)
    if (name != validation_examples_key) out[name] = sums[k++] / sums.back();
  if (examples != values.end()) out[validation_examples_key] = sums.back();
  return out;
}

void Trainer::start_metrics_log() const {
  if (options_.run_dir().empty() || !is_root()) return;
  std::string log;
  for (const auto& m : result_.history) log += log_line(m);
  write_file_atomically(options_.run_dir() + "/metrics.jsonl", log);
}

void Trainer::append_metrics(const EpochMetrics& metrics) const {
  if (options_.run_dir().empty() || !is_root()) return;
  append_to_file(options_.run_dir() + "/metrics.jsonl", log_line(metrics));
}

std::vector<EpochMetrics> read_metrics_log(const std::string& path) {
  const std::string text = data::read_text_file("read_metrics_log", path, max_metrics_log_bytes);
  std::vector<EpochMetrics> history;
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text.size(); ++line_number) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    try {
      const auto line = nlohmann::json::parse(text.substr(start, end - start));
      const auto epoch = integer_in(line.at("epoch"), 1, std::numeric_limits<std::int64_t>::max());
      if (!epoch)
        throw IOError(fmt::format("read_metrics_log: {}:{}: expected a positive integer epoch, got {}", path,
                                  line_number + 1, line.at("epoch").dump()));
      const auto values = values_from_json(line.at("values"));
      if (!values)
        throw IOError(fmt::format("read_metrics_log: {}:{}: expected \"values\" to map names to numbers, got {}", path,
                                  line_number + 1, line.at("values").dump()));
      history.push_back({*epoch, *values});
    } catch (const nlohmann::json::exception& e) {
      throw IOError(fmt::format("read_metrics_log: {}:{}: expected {{\"epoch\": N, \"values\": {{...}}}}, got a "
                                "malformed line: {}", path, line_number + 1, e.what()));
    }
    start = end + 1;
  }
  return history;
}

std::vector<Batch> time_chunks(const Batch& batch, std::int64_t steps, std::int64_t axis) {
  if (steps < 0) throw ValueError(fmt::format("time_chunks: expected steps >= 0, got {}", steps));
  if (steps == 0 || batch.empty()) return {batch};
  if (axis < 0 || axis >= batch[0].dim())
    throw ValueError(fmt::format("time_chunks: the time axis {} is not an axis of the first tensor, shape {}", axis,
                                 shape_str(batch[0].shape())));
  const std::int64_t length = batch[0].size(axis);
  std::vector<Batch> chunks;
  for (std::int64_t start = 0; start < length; start += steps) {
    Batch chunk;
    for (const Tensor& t : batch) {
      const bool cut = t.dim() > axis && t.size(axis) == length;
      chunk.push_back(cut ? t.narrow(axis, start, std::min(steps, length - start)) : t);
    }
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

std::optional<double> Trainer::train_step(const Batch& batch, const LossFunction& loss_function, double share,
                                         std::int64_t step, std::int64_t epoch, std::int64_t index) {
  if (replicas_) replicas_->begin_step(share);
  optimizer_.zero_grad();
  Tensor loss = loss_function(batch);
  const double value = loss.item();
  loss.backward();
  if (replicas_) replicas_->finish_step();  // gradients averaged: every replica sees the same non-finite ones
  const std::string bad_gradient = first_non_finite_gradient(model_);
  if (!std::isfinite(value) || !bad_gradient.empty()) {
    if (options_.on_non_finite() == "skip") return std::nullopt;
    const auto describe = [](double v) { return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf"; };
    std::string what = std::isfinite(value) ? "" : fmt::format("the loss became {}", describe(value));
    if (!bad_gradient.empty())
      what += fmt::format("{}the first non-finite gradient is {}'s", what.empty() ? "" : " and ", bad_gradient);
    throw ValueError(fmt::format("Trainer: step {} (epoch {}, batch {}): {}; lower the learning rate, clip "
                                 "gradients (clip_grad_norm), check the data, or skip such steps "
                                 "(on_non_finite(\"skip\"))",
                                 step, epoch, index + 1, what));
  }
  if (options_.clip_grad_norm() > 0) clip_grad_norm(model_.parameters(), options_.clip_grad_norm());
  optimizer_.step();
  return value;
}

TrainResult Trainer::fit(BatchSource& train, const LossFunction& loss_function, const Validation& validate) {
  if (replicas_ && options_.tbptt_steps() > 0)  // replicas' shards can differ in length, hence in chunk count
    throw ValueError("Trainer: tbptt_steps cannot be combined with replicas (MPI) yet: each replica's batch may "
                     "cut into a different number of chunks, and every chunk is a collective step");
  if (replicas_) start_replicas();
  start_metrics_log();
  const auto fit_start = Clock::now();
  for (std::int64_t epoch = epoch_ + 1; epoch <= options_.epochs(); ++epoch) {
    const auto start = Clock::now();
    model_.train();
    train.start_epoch(epoch, generator_);
    const std::int64_t batches = train.num_batches();
    detail::Progress progress(options_.progress() && is_root() ? stderr : nullptr, ::isatty(::fileno(stderr)) != 0,
                              epoch, options_.epochs(), batches);
    double total = 0.0;     // this replica's batch losses, for its progress line
    std::int64_t examples = 0;  // this replica's rows, for its progress line
    double weighted = 0.0;  // the same weighted by this replica's share of each batch
    std::int64_t batches_taken = 0, steps_skipped = 0;
    for (std::int64_t i = 0; i < batches; ++i) {
      const Batch batch = train.batch(i);
      const std::int64_t rows = batch.empty() || batch[0].dim() == 0 ? 0 : batch[0].size(0);
      double share = 1.0;  // this replica's part of the global batch
      if (replicas_) share = static_cast<double>(rows) / replicas_->sum({static_cast<double>(rows)})[0];
      const std::vector<Batch> chunks = time_chunks(batch, options_.tbptt_steps(), options_.tbptt_axis());
      double batch_loss = 0.0;  // the mean over the chunks taken
      std::int64_t chunks_taken = 0;
      chunk_.count = static_cast<std::int64_t>(chunks.size());
      for (chunk_.index = 0; chunk_.index < chunk_.count; ++chunk_.index) {
        const auto value = train_step(chunks[chunk_.index], loss_function, share, (epoch - 1) * batches + i + 1, epoch, i);
        if (!value) {
          ++steps_skipped;
          continue;
        }
        batch_loss += *value;
        ++chunks_taken;
      }
      chunk_ = Chunk();
      if (chunks_taken == 0) continue;
      batch_loss /= static_cast<double>(chunks_taken);
      total += batch_loss;
      weighted += batch_loss * share;
      ++batches_taken;
      examples += rows;
      progress.update(i + 1, examples, total / static_cast<double>(batches_taken));
    }
    if (replicas_) weighted = replicas_->sum({weighted})[0];
    result_.skipped_steps += steps_skipped;
    EpochMetrics metrics;
    metrics.epoch = epoch;
    metrics.values["train_loss"] = batches_taken ? weighted / static_cast<double>(batches_taken) : 0.0;
    if (options_.on_non_finite() == "skip") metrics.values["skipped_steps"] = static_cast<double>(steps_skipped);
    metrics.values["lr"] = optimizer_.param_groups().empty() ? 0.0 : optimizer_.param_groups()[0].lr;
    if (validate) {
      model_.eval();
      NoGradGuard no_grad;
      const auto values = validate();
      for (const auto& [name, value] : replicas_ ? average_over_replicas(values) : values) metrics.values[name] = value;
      model_.train();
    }
    metrics.values["seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    const auto computed = [&](const std::string& name, const char* role) {
      const auto found = metrics.values.find(name);
      if (found == metrics.values.end())
        throw ValueError(fmt::format("Trainer: the {} metric '{}' was not computed (have: train_loss, lr{})", role,
                                     name, validate ? " and the validation metrics" : ""));
      return found->second;
    };
    const double monitored = computed(options_.monitor(), "monitored");
    if (scheduler_) scheduler_->step();
    if (plateau_) plateau_->step(plateau_metric_.empty() ? monitored : computed(plateau_metric_, "plateau's"));

    epoch_ = epoch;
    result_.history.push_back(metrics);
    if (improved(monitored)) {
      result_.best_value = monitored;
      result_.best_epoch = epoch;
      epochs_without_improvement_ = 0;
      if (!options_.run_dir().empty() && is_root()) save(model_, options_.run_dir() + "/best.safetensors");
    } else {
      ++epochs_without_improvement_;
    }
    progress.finish(summary_line(metrics, options_.epochs(), result_.best_epoch == epoch));
    // The checkpoint first: the log never names an epoch that a failed or killed save lost.
    if (!options_.run_dir().empty() && is_root()) save_checkpoint(options_.run_dir() + "/last.safetensors");
    append_metrics(metrics);
    if (options_.early_stopping_patience() > 0 && epochs_without_improvement_ >= options_.early_stopping_patience()) {
      result_.stopped_early = true;
      break;
    }
    if (options_.time_limit_seconds() > 0.0 && epoch < options_.epochs()) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - fit_start).count();
      double out_of_time = elapsed >= options_.time_limit_seconds() ? 1.0 : 0.0;
      if (replicas_) out_of_time = replicas_->sum({out_of_time})[0];  // replicas' clocks differ: one decides for all
      if (out_of_time > 0.0) {
        result_.stopped_by_time_limit = true;
        if (is_root() && options_.progress())
          std::fprintf(stderr, "time limit of %.0f s reached after epoch %ld of %ld\n", options_.time_limit_seconds(),
                       static_cast<long>(epoch), static_cast<long>(options_.epochs()));
        break;
      }
    }
  }
  return result_;
}

}  // namespace loom::optim
