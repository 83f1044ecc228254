#include "run_config.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/serialization.h"

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
  visit(json, "attention", c.attention);
  visit(json, "beam", c.beam);
  visit(json, "scenes", c.scenes);
  visit(json, "encoder", c.encoder);
  visit(json, "freeze_encoder", c.freeze_encoder);
  visit(json, "seed", c.seed);
  visit(json, "threads", c.threads);
}
}  // namespace

void save_config(const RunConfig& config) {
  nlohmann::ordered_json json;
  RunConfig copy = config;
  fields(json, copy, [](auto& j, const char* key, auto& value) { j[key] = value; });
  write_file_atomically(config.run_dir + "/config.json", json.dump(2) + "\n");
}

RunConfig load_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  std::ifstream in(path);
  if (!in) throw IOError(fmt::format("'{}' is not a run folder: {} is missing", run_dir, path));
  RunConfig config;
  config.run_dir = run_dir;
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    // A field the file lacks keeps its default: run folders written before it existed still load.
    fields(json, config, [](const auto& j, const char* key, auto& value) {
      if (j.contains(key)) j.at(key).get_to(value);
    });
  } catch (const nlohmann::json::exception& e) {
    throw IOError(fmt::format("{} is malformed: {}", path, e.what()));
  }
  return config;
}

}  // namespace loom::tools
