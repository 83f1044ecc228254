#include "run_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <limits>
#include <type_traits>

#include "loom/data/files.h"
#include "loom/io.h"

namespace loom::tools {

namespace {
// One list of fields serves both directions, so the two cannot drift apart.
template <class Json, class Config, class Visit>
void fields(Json& json, Config& c, Visit visit) {
  visit(json, "task", c.task);
  visit(json, "data_dir", c.data_dir);
  visit(json, "model", c.model);
  visit(json, "cell", c.cell);
  visit(json, "embedding_dim", c.embedding_dim);
  visit(json, "hidden", c.hidden);
  visit(json, "layers", c.layers);
  visit(json, "bidirectional", c.bidirectional);
  visit(json, "dropout", c.dropout);
  visit(json, "pooling", c.pooling);
  visit(json, "optimizer", c.optimizer);
  visit(json, "lr", c.lr);
  visit(json, "weight_decay", c.weight_decay);
  visit(json, "epochs", c.epochs);
  visit(json, "batch", c.batch);
  visit(json, "min_frequency", c.min_frequency);
  visit(json, "max_tokens", c.max_tokens);
  visit(json, "word_dropout", c.word_dropout);
  visit(json, "class_weights", c.class_weights);
  visit(json, "attention", c.attention);
  visit(json, "beam", c.beam);
  visit(json, "length_normalization", c.length_normalization);
  visit(json, "length_penalty", c.length_penalty);
  visit(json, "coverage_penalty", c.coverage_penalty);
  visit(json, "arch", c.arch);
  visit(json, "subwords", c.subwords);
  visit(json, "subword_type", c.subword_type);
  visit(json, "shared_subwords", c.shared_subwords);
  visit(json, "scenes", c.scenes);
  visit(json, "encoder", c.encoder);
  visit(json, "freeze_encoder", c.freeze_encoder);
  visit(json, "time_limit", c.time_limit);
  visit(json, "seed", c.seed);
  visit(json, "threads", c.threads);
}
// A config.json is a few hundred bytes; anything past this is not one.
constexpr std::uint64_t max_config_bytes = 1 << 20;

// One value of the file: integers must be whole numbers that fit their field (a float or an
// out-of-range number would otherwise be converted with undefined behaviour).
template <class Value>
void read_field(const std::string& path, const nlohmann::json& field, const char* key, Value& value) {
  if constexpr (std::is_integral_v<Value> && !std::is_same_v<Value, bool>) {
    using Wide = std::conditional_t<std::is_signed_v<Value>, std::int64_t, std::uint64_t>;
    const bool fits = std::is_signed_v<Value> ? field.is_number_integer() : field.is_number_unsigned();
    const Wide wide = fits ? field.get<Wide>() : Wide{};
    if (!fits || wide < std::numeric_limits<Value>::min() || wide > std::numeric_limits<Value>::max())
      throw IOError(fmt::format("{}: expected {} to be an integer in [{}, {}], got {}", path, key,
                                std::numeric_limits<Value>::min(), std::numeric_limits<Value>::max(), field.dump()));
    value = static_cast<Value>(wide);
  } else {
    field.get_to(value);
  }
}

void check_range(const std::string& path, const char* key, double value, Range range) {
  if (!(value >= range.min && value <= range.max))
    throw IOError(fmt::format("{}: expected {} in [{}, {}], got {}", path, key, range.min, range.max, value));
}

void check_choice(const std::string& path, const char* key, const std::string& value,
                  const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end())
    throw IOError(fmt::format("{}: expected {} to be one of {}, got '{}'", path, key, fmt::join(choices, ", "), value));
}

void check_limits(const RunConfig& c, const std::string& path) {
  check_choice(path, "model", c.model, limits::models);
  check_choice(path, "cell", c.cell, limits::cells);
  check_choice(path, "pooling", c.pooling, limits::poolings);
  check_choice(path, "optimizer", c.optimizer, limits::optimizers);
  check_range(path, "embedding_dim", static_cast<double>(c.embedding_dim), limits::embedding_dim);
  check_range(path, "hidden", static_cast<double>(c.hidden), limits::hidden);
  check_range(path, "layers", static_cast<double>(c.layers), limits::layers);
  check_range(path, "dropout", c.dropout, limits::dropout);
  check_range(path, "lr", c.lr, limits::lr);
  check_range(path, "weight_decay", c.weight_decay, limits::weight_decay);
  check_range(path, "epochs", static_cast<double>(c.epochs), limits::epochs);
  check_range(path, "batch", static_cast<double>(c.batch), limits::batch);
  check_range(path, "min_frequency", static_cast<double>(c.min_frequency), limits::min_frequency);
  check_range(path, "max_tokens", static_cast<double>(c.max_tokens), limits::max_tokens);
  check_range(path, "word_dropout", c.word_dropout, limits::word_dropout);
  check_choice(path, "class_weights", c.class_weights, limits::class_weights);
  check_choice(path, "attention", c.attention, limits::attentions);
  check_range(path, "beam", static_cast<double>(c.beam), limits::beam);
  check_choice(path, "length_normalization", c.length_normalization, limits::length_normalizations);
  check_range(path, "length_penalty", c.length_penalty, limits::length_penalty);
  check_range(path, "coverage_penalty", c.coverage_penalty, limits::coverage_penalty);
  check_choice(path, "arch", c.arch, limits::architectures);
  check_range(path, "subwords", static_cast<double>(c.subwords), limits::subwords);
  check_choice(path, "subword_type", c.subword_type, limits::subword_types);
  check_range(path, "scenes", static_cast<double>(c.scenes), limits::scenes);
  check_range(path, "time_limit", c.time_limit, limits::time_limit);
  check_range(path, "threads", c.threads, limits::threads);
}

nlohmann::ordered_json to_json(RunConfig config) {
  nlohmann::ordered_json json;
  fields(json, config, [](auto& j, const char* key, auto& value) { j[key] = value; });
  return json;
}

IOError malformed(const std::string& path, const nlohmann::json::exception& e) {
  return IOError(fmt::format("{} is malformed: {}", path, e.what()));
}

nlohmann::json parse_config(const std::string& path, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw malformed(path, e);
  }
}

// The values `json` gives, read into `config`; a field it lacks keeps its value.
void read_fields(const std::string& path, const nlohmann::json& json, RunConfig& config) {
  try {
    fields(json, config, [&](const auto& j, const char* key, auto& value) {
      if (j.contains(key)) read_field(path, j.at(key), key, value);
    });
  } catch (const nlohmann::json::exception& e) {  // a value of another type
    throw malformed(path, e);
  }
}
}  // namespace

std::string config_json(const RunConfig& config) { return to_json(config).dump(2) + "\n"; }

void save_config(const RunConfig& config) { write_file_atomically(config.run_dir + "/config.json", config_json(config)); }

ConfigFile read_config_file(const std::string& path) {
  const nlohmann::json json = parse_config(path, data::read_text_file("--config", path, max_config_bytes));
  if (!json.is_object())
    throw IOError(fmt::format("{}: expected an object of config.json's keys, got {}", path, json.type_name()));
  const auto known = to_json(RunConfig{});
  ConfigFile file;
  for (const auto& [key, value] : json.items()) {
    if (!known.contains(key)) {
      std::vector<std::string> keys;
      for (const auto& [name, unused] : known.items()) keys.push_back(name);
      throw IOError(fmt::format("{}: unknown key '{}'; the keys are those of a run's config.json: {}", path, key,
                                fmt::join(keys, ", ")));
    }
    file.keys.push_back(key);
  }
  read_fields(path, json, file.values);
  check_limits(file.values, path);
  return file;
}

void apply_config_file(const ConfigFile& file, RunConfig& config, const std::function<bool(const std::string& key)>& keep) {
  const auto json = to_json(file.values);
  fields(json, config, [&](const auto& j, const char* key, auto& value) {
    if (std::find(file.keys.begin(), file.keys.end(), key) != file.keys.end() && !keep(key)) j.at(key).get_to(value);
  });
}

std::vector<std::string> changed_options(const RunConfig& before, const RunConfig& after) {
  const auto old_json = to_json(before), new_json = to_json(after);
  std::vector<std::string> changes;
  for (const auto& [key, value] : old_json.items())
    if (key != "epochs" && key != "time_limit" && key != "threads" && value != new_json.at(key))
      changes.push_back(fmt::format("{}: {} -> {}", key, value.dump(), new_json.at(key).dump()));
  return changes;
}

RunFolderLock::RunFolderLock(const std::string& run_dir, Mode mode, const std::string& command) : mode_(mode) {
  const std::string path = run_dir + "/.lock";
  // Only a trainer creates the file: a reader pointed at any folder leaves nothing behind, and a
  // folder without one has never been trained, so there is no trainer to wait for.
  fd_ = ::open(path.c_str(), O_RDWR | (mode == Mode::exclusive ? O_CREAT : 0) | O_CLOEXEC, 0644);
  if (fd_ < 0 && mode == Mode::shared) {
    if (errno == ENOENT) return;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // a read-only folder
  }
  if (fd_ < 0) throw IOError(fmt::format("{}: cannot open the lock file '{}': {}", command, path, std::strerror(errno)));
  if (::flock(fd_, (mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    const int error = errno;
    // The PID a trainer wrote; a shared holder (eval, predict) writes none, so a dead PID there
    // is a finished trainer's, not the holder's.
    char text[24] = {};
    const bool read = ::pread(fd_, text, sizeof text - 1, 0) > 0;
    const long pid = read ? std::strtol(text, nullptr, 10) : 0;
    const bool alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    ::close(fd_);
    if (error != EWOULDBLOCK)
      throw IOError(fmt::format("{}: cannot lock '{}': {}", command, path, std::strerror(error)));
    const std::string holder = alive ? fmt::format("process {}", pid) : std::string("another process");
    throw IOError(mode == Mode::exclusive
                      ? fmt::format("{}: the run folder {} is in use by {} (it holds {}); wait for it to end or "
                                    "pass another --run-dir", command, run_dir, holder, path)
                      : fmt::format("{}: the run folder {} is being trained by {} (it holds {}); wait for it to "
                                    "end", command, run_dir, holder, path));
  }
  if (mode == Mode::shared) return;
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const std::string message = fmt::format("{}: cannot write the lock file '{}': {}", command, path, std::strerror(errno));
    ::close(fd_);
    throw IOError(message);
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ < 0) return;
  if (mode_ == Mode::exclusive) (void)::ftruncate(fd_, 0);  // no PID of a finished trainer left behind
  ::close(fd_);  // releases the lock (the kernel does the same when the process dies)
}

RunConfig load_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  if (!std::filesystem::exists(path)) throw IOError(fmt::format("'{}' is not a run folder: {} is missing", run_dir, path));
  const std::string text = data::read_text_file("load_config", path, max_config_bytes);
  RunConfig config;
  config.run_dir = run_dir;
  // A field the file lacks keeps its default: run folders written before it existed still load.
  read_fields(path, parse_config(path, text), config);
  // Text runs saved before they had a model choice say "rows" (the field's default): recurrent.
  if (is_text_task(config.task) && config.model == "rows") config.model = "rnn";
  check_limits(config, path);
  return config;
}

}  // namespace loom::tools
