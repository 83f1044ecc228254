// The charlm task: a character-level LSTM language model on any UTF-8 text (by default the
// sentences embedded in data/sentiment/, one per line), validation perplexity on the last 10%
// of the text, and one-to-many generation with temperature and top-k (`loom generate`).
#include "charlm_task.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loom/data.h"
#include "loom/loom.h"
#include "loom/models/char_lm.h"
#include "loom/optim.h"
#include "report.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

constexpr std::int64_t kSteps = 64;  // characters per training sequence (truncated BPTT)
// Training holds ~24 bytes per character of text (ids, inputs, targets): 256 MiB of text is ~6 GiB.
constexpr std::uint64_t kMaxTextBytes = std::uint64_t{256} << 20;

// The training text: the file --data-dir names, or the embedded sentences, one per line.
std::string load_text(const RunConfig& config) {
  namespace fs = std::filesystem;
  std::string text;
  if (fs::is_regular_file(config.data_dir)) {
    text = data::read_utf8_file("charlm", config.data_dir, kMaxTextBytes);
  } else {
    if (!fs::exists(config.data_dir + "/amazon.tsv"))
      throw IOError(fmt::format("charlm: --data-dir {} is neither a text file nor the embedded sentences' folder",
                                config.data_dir));
    for (const auto& source : data::load_sentiment(config.data_dir))
      for (const auto& sentence : source.sentences) text += sentence + "\n";
  }
  if (text.size() < 10 * kSteps)
    throw ValueError(fmt::format("charlm: the text from {} has {} bytes; it needs at least {}", config.data_dir,
                                 text.size(), 10 * kSteps));
  return text;
}

models::CharLM make_model(const RunConfig& c, std::int64_t vocab_size) {
  return models::CharLM(models::CharLMOptions(vocab_size).embedding_dim(c.embedding_dim).hidden_size(c.hidden)
                            .num_layers(c.layers).dropout(c.dropout));
}

// Consecutive (input, next-character target) windows of kSteps: x (N, kSteps), y (N, kSteps).
data::TensorBatches windows(const std::vector<std::int64_t>& ids, std::int64_t batch, bool shuffle, const Job& process = {}) {
  const auto n = static_cast<std::int64_t>(ids.size() - 1) / kSteps;
  std::vector<std::int64_t> x(ids.begin(), ids.begin() + n * kSteps), y(ids.begin() + 1, ids.begin() + n * kSteps + 1);
  return data::TensorBatches(from_vector(x, {n, kSteps}), from_vector(y, {n, kSteps}),
                             data::TensorBatchOptions().batch_size(batch).shuffle(shuffle).num_replicas(process.size).rank(process.rank));
}

double perplexity_of(models::CharLM& model, data::TensorBatches& batches) {
  double total = 0;
  for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto batch = batches.batch(b);
    const auto out = model.forward(batch[0]);
    total += cross_entropy(out.logits.reshape({-1, out.logits.size(2)}), batch[1].reshape({-1})).item();
  }
  return data::perplexity(total / static_cast<double>(std::max<std::int64_t>(batches.num_batches(), 1)));
}

std::string generate_text(models::CharLM& model, const data::Vocabulary& vocab, const std::string& prefix,
                          std::int64_t length, double temperature, std::int64_t top_k, std::uint64_t seed) {
  Generator generator(seed);
  std::vector<std::int64_t> prefix_ids;
  for (const auto& c : data::characters(prefix.empty() ? "\n" : prefix)) prefix_ids.push_back(vocab.id(c));
  std::string out = prefix;
  for (auto id : model.sample(prefix_ids, length, temperature, top_k, &generator)) out += vocab.token(id);
  return out;
}

}  // namespace

int train_charlm(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  const auto characters = data::characters(load_text(config));
  const auto vocab = data::Vocabulary::build({characters});
  const Job process = job();
  if (process.root()) vocab.save(config.run_dir + "/vocab.txt");
  const auto ids = vocab.encode(characters);
  const auto split = ids.size() * 9 / 10;  // the last 10% of the text validates
  auto train = windows({ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(split)}, config.batch, true, process);
  auto validation = windows({ids.begin() + static_cast<std::ptrdiff_t>(split), ids.end()}, 256, false);
  if (process.root()) std::fprintf(stderr, "charlm: %zu characters, %ld distinct\n", characters.size(), static_cast<long>(vocab.size()));
  manual_seed(config.seed);
  auto model = make_model(config, vocab.size());
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_perplexity", "min"));
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const auto result = trainer.fit(
      train,
      [&](const optim::Batch& b) {
        const auto out = model.forward(b[0]);
        return cross_entropy(out.logits.reshape({-1, out.logits.size(2)}), b[1].reshape({-1}));
      },
      [&] { return std::map<std::string, double>{{"val_perplexity", perplexity_of(model, validation)}}; });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files
  load_best(config, model);
  nlohmann::ordered_json metrics;
  metrics["task"] = "charlm";
  metrics["characters"] = characters.size();
  metrics["vocabulary"] = vocab.size();
  metrics["val_perplexity"] = result.best_value;
  metrics["best_epoch"] = result.best_epoch;
  metrics["train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_file_atomically(config.run_dir + "/metrics.json", metrics.dump(2) + "\n");
  report::Report page;
  page.title = fmt::format("loom charlm: {}", config.run_dir);
  page.summary = summary_rows(metrics);
  add_learning_curves(page, result.history, result.best_epoch);
  for (double temperature : {0.5, 1.0})
    page.text_samples.push_back(fmt::format("temperature {}:\n{}", temperature,
                                            generate_text(model, vocab, "The ", 300, temperature, 0, config.seed)));
  report::write_html(page, config.run_dir + "/report.html");
  std::printf("%s\n%s\nreport: %s/report.html\n", metrics.dump(2).c_str(), page.text_samples[0].c_str(),
              config.run_dir.c_str());
  return 0;
}

int generate(const RunConfig& config, const GenerateOptions& options) {
  const auto vocab = data::Vocabulary::load(config.run_dir + "/vocab.txt");
  auto model = make_model(config, vocab.size());
  load_best(config, model);
  std::printf("%s\n", generate_text(model, vocab, options.prefix, options.length, options.temperature,
                                    options.top_k, options.seed).c_str());
  return 0;
}

namespace {
const InferenceCommand generate_command{
    "generate", "Generate text with a trained charlm run", [](CLI::App& command) -> Runner {
      auto options = std::make_shared<GenerateOptions>();
      command.add_option("--prefix", options->prefix, "Text to start from");
      command.add_option("--length", options->length, "Characters to generate")->check(CLI::Range(1, 1000000));
      command.add_option("--temperature", options->temperature, "Sampling temperature")->check(CLI::Range(1e-3, 100.0));
      command.add_option("--top-k", options->top_k, "Sample among the k likeliest (0: all)")->check(CLI::Range(0, 1000000));
      add_seed_option(command, options->seed);
      return [options](const RunConfig& run) { return generate(run, *options); };
    }};
}  // namespace

const Task& charlm_task() {
  static const Task task{
      "charlm",
      "a character language model of any UTF-8 text (by default the sentiment sentences); `loom generate` samples it",
      /*data=*/"sentiment",
      /*fetch=*/"",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 200k characters of sentences
        if (unset("hidden")) config.hidden = 256;
        if (unset("bidirectional")) config.bidirectional = false;
        if (unset("dropout")) config.dropout = 0.1;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("epochs")) config.epochs = 10;
        if (unset("batch")) config.batch = 32;
      },
      train_charlm,
      /*eval=*/nullptr,
      &generate_command};
  return task;
}

}  // namespace loom::tools
