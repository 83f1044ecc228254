#pragma once
/// A trained text classifier loaded from a run folder that `loom train sentiment` or `loom train
/// spam` wrote (config.json, vocab.txt, best.safetensors), for a program of your own: no command
/// line, no training code.
///
///     auto classifier = loom::tools::TextClassifier::load("runs/sentiment");
///     for (const auto& p : classifier.predict({"A wonderful, touching film."}))
///       std::printf("%s %.2f\n", p.label.c_str(), p.probability);   // the label, its probability
///
/// predict is const and may be called from several threads at once: the model is in eval mode,
/// each call runs under its own (thread-local) no-grad guard and shares only read-only weights.
/// Each call uses Loom's thread pool as set by loom::set_num_threads; a server that calls predict
/// from its own threads usually wants loom::set_num_threads(1).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/data/vocabulary.h"
#include "loom/models/sequence_classifier.h"
#include "run_config.h"

namespace loom::tools {

/// The options of the classifier the text tasks train, sized by the config and the vocabulary
/// (2 classes).
models::SequenceClassifierOptions text_model_options(const RunConfig& config, std::int64_t vocab_size);

/// The ids the text tasks feed the model for one text: its tokens (the first config.max_tokens
/// when that is set), unknown ones as <unk>, and at least one id.
std::vector<std::int64_t> encode_text(const std::string& text, const data::Vocabulary& vocab,
                                      const RunConfig& config);

/// The likeliest class of each sequence and its probability. Runs under no-grad, in whatever
/// mode the model is (call model.eval() first), in batches of 256.
struct ClassPredictions {
  std::vector<std::int64_t> classes;
  std::vector<double> probabilities;
};
ClassPredictions classify(models::SequenceClassifier& model,
                          const std::vector<std::vector<std::int64_t>>& sequences);

/// The class names of a text task: negative/positive (sentiment), ham/spam (spam).
const std::vector<std::string>& text_class_names(const std::string& task);

class TextClassifier {
 public:
  struct Prediction {
    std::string label;        ///< the class name
    std::int64_t label_id;    ///< its index in labels()
    double probability;       ///< the model's probability of that class
  };

  /// Reads RUN_DIR's config, vocabulary and best weights (IOError or ValueError naming what is
  /// missing or does not match; only runs of the text tasks), under the folder's shared lock: an
  /// IOError names the trainer that holds it.
  static TextClassifier load(const std::string& run_dir);

  /// One prediction per text, in order.
  std::vector<Prediction> predict(const std::vector<std::string>& texts) const;

  const RunConfig& config() const { return config_; }
  const data::Vocabulary& vocabulary() const { return vocabulary_; }
  const std::vector<std::string>& labels() const { return text_class_names(config_.task); }

 private:
  TextClassifier(RunConfig config, data::Vocabulary vocabulary,
                 std::shared_ptr<models::SequenceClassifier> model);

  RunConfig config_;
  data::Vocabulary vocabulary_;
  std::shared_ptr<models::SequenceClassifier> model_;  // eval mode; only read after load
};

}  // namespace loom::tools
