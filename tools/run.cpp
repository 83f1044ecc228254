#include "run.h"

#include <fmt/format.h>

#include "loom/autograd.h"
#include "loom/data/batching.h"
#include "loom/data/tokenizer.h"
#include "loom/ops.h"
#include "loom/serialization.h"

namespace loom::tools {

models::SequenceClassifierOptions text_model_options(const RunConfig& c, std::int64_t vocab_size) {
  return models::SequenceClassifierOptions(vocab_size, 2)
      .embedding_dim(c.embedding_dim)
      .encoder(c.model)
      .cell(c.cell)
      .hidden_size(c.hidden)
      .num_layers(c.layers)
      .bidirectional(c.bidirectional)
      .dropout(c.dropout)
      .pooling(c.pooling)
      .word_dropout(c.word_dropout)
      .unknown_id(data::Vocabulary::unk_id);
}

std::vector<std::int64_t> encode_text(const std::string& text, const data::Vocabulary& vocab, const RunConfig& config) {
  auto tokens = data::tokenize(text);
  const auto limit = static_cast<std::size_t>(config.max_tokens);
  if (limit && tokens.size() > limit) tokens.resize(limit);
  auto ids = vocab.encode(tokens);
  if (ids.empty()) ids.push_back(data::Vocabulary::unk_id);  // an empty text still has one step
  return ids;
}

ClassPredictions classify(models::SequenceClassifier& model, const std::vector<std::vector<std::int64_t>>& sequences) {
  NoGradGuard no_grad;
  ClassPredictions out;
  std::vector<std::int64_t> no_labels(sequences.size(), 0);
  data::SequenceBatches batches(sequences, no_labels, data::SequenceBatchOptions().batch_size(256).shuffle(false));
  out.classes.resize(sequences.size());
  out.probabilities.resize(sequences.size());
  for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto batch = batches.batch(b);
    const Tensor probabilities = softmax(model.forward(batch[0], batch[1]), 1);  // (B, C)
    const auto best = argmax(probabilities, 1).to_vector<std::int64_t>();
    const auto p = probabilities.to_vector<double>();
    const auto& rows = batches.batch_indices(b);
    const std::int64_t classes = probabilities.size(1);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      out.classes[rows[r]] = best[r];
      out.probabilities[rows[r]] = p[r * classes + best[r]];
    }
  }
  return out;
}

const std::vector<std::string>& text_class_names(const std::string& task) {
  static const std::vector<std::string> sentiment = {"negative", "positive"}, spam = {"ham", "spam"};
  if (task == "sentiment") return sentiment;
  if (task == "spam") return spam;
  throw ValueError(fmt::format("text_class_names: expected a text task (sentiment or spam), got '{}'", task));
}

TextClassifier::TextClassifier(RunConfig config, data::Vocabulary vocabulary,
                               std::shared_ptr<models::SequenceClassifier> model)
    : config_(std::move(config)), vocabulary_(std::move(vocabulary)), model_(std::move(model)) {}

TextClassifier TextClassifier::load(const std::string& run_dir) {
  const RunFolderLock reading(run_dir, RunFolderLock::Mode::shared, "TextClassifier::load");  // no trainer mid-run
  RunConfig config = load_config(run_dir);
  if (!is_text_task(config.task))
    throw ValueError(fmt::format("TextClassifier::load: expected a run of a text task (sentiment or spam), "
                                 "{} is a {} run", run_dir, config.task));
  auto vocabulary = data::Vocabulary::load(run_dir + "/vocab.txt");
  auto model = std::make_shared<models::SequenceClassifier>(text_model_options(config, vocabulary.size()));
  loom::load(*model, run_dir + "/best.safetensors");
  model->eval();
  return TextClassifier(std::move(config), std::move(vocabulary), std::move(model));
}

std::vector<TextClassifier::Prediction> TextClassifier::predict(const std::vector<std::string>& texts) const {
  std::vector<std::vector<std::int64_t>> sequences;
  for (const auto& text : texts) sequences.push_back(encode_text(text, vocabulary_, config_));
  const auto predicted = classify(*model_, sequences);
  std::vector<Prediction> out;
  for (std::size_t i = 0; i < texts.size(); ++i)
    out.push_back({labels()[predicted.classes[i]], predicted.classes[i], predicted.probabilities[i]});
  return out;
}

}  // namespace loom::tools
