// The g2p task: CMU dictionary words (characters) -> phones with an attentional Seq2Seq.
// The dictionary comes from Debian's pocketsphinx-en-us (`bash scripts/fetch_data.sh g2p`),
// split 90/5/5 by a hash of the word (data::load_cmudict). Validation picks the epoch by greedy
// word error rate; the test words are decoded with beam search (and greedily, for comparison).
// Word error rate here is the g2p literature's: the share of words with any phone wrong.
#include "g2p_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/data.h"
#include "loom/loom.h"
#include "loom/models/seq2seq.h"
#include "loom/optim.h"
#include "report.h"
#include "seq2seq_task_common.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

struct G2PData {
  data::CmuDict dict;
  data::Vocabulary letters, phones;
};

std::string dict_path(const RunConfig& config) {
  return std::filesystem::is_regular_file(config.data_dir) ? config.data_dir
                                                           : config.data_dir + "/cmudict-en-us.dict";
}

data::CmuDict load_dict(const RunConfig& config) {
  const std::string path = dict_path(config);
  if (!std::filesystem::exists(path))
    throw IOError(fmt::format("g2p: {} is missing; run `bash scripts/fetch_data.sh g2p` first", path));
  return data::load_cmudict(path);
}

std::vector<std::int64_t> encode_word(const data::Vocabulary& letters, const std::string& word) {
  return letters.encode(data::characters(word));
}

std::vector<std::vector<std::int64_t>> encode_words(const data::Vocabulary& letters,
                                                    const std::vector<data::Pronunciation>& entries) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& e : entries) out.push_back(encode_word(letters, e.word));
  return out;
}

std::vector<std::vector<std::int64_t>> encode_phones(const data::Vocabulary& phones,
                                                     const std::vector<data::Pronunciation>& entries) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& e : entries) out.push_back(phones.encode(e.phones));
  return out;
}

struct ErrorRates {
  double wer = 0.0, per = 0.0;
  std::vector<data::Tokens> predicted;
};

ErrorRates score(const std::vector<models::Hypothesis>& hypotheses, const data::Vocabulary& phones,
                 const std::vector<data::Pronunciation>& entries) {
  ErrorRates rates;
  std::vector<data::Tokens> references;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    rates.predicted.push_back(phones.decode(hypotheses[i].tokens));
    references.push_back(entries[i].phones);
  }
  rates.wer = 1.0 - data::exact_match(rates.predicted, references);
  rates.per = data::token_error_rate(rates.predicted, references);
  return rates;
}

// The test figures into `metrics`, and the report's tables, heatmaps and samples into `page`.
void evaluate(const RunConfig& config, models::Seq2Seq& model, const G2PData& g2p, nlohmann::ordered_json& metrics,
              report::Report& page) {
  const auto& test = g2p.dict.test;
  const auto words = encode_words(g2p.letters, test);
  const auto beam_hypotheses = decode_all(model, words, config, config.beam);
  const auto beam = score(beam_hypotheses, g2p.phones, test);
  const auto greedy = score(decode_all(model, words, config, 1), g2p.phones, test);
  metrics["test_words"] = test.size();
  metrics["test_wer"] = beam.wer;
  metrics["test_per"] = beam.per;
  metrics["beam_size"] = config.beam;
  metrics["test_wer_greedy"] = greedy.wer;
  metrics["test_per_greedy"] = greedy.per;

  page.tables.push_back({fmt::format("Test error rates ({} words)", test.size()),
                         {"decoding", "word error rate", "phoneme error rate"},
                         {{fmt::format("beam search, beam {}", config.beam), fmt::format("{:.2f}%", 100 * beam.wer),
                           fmt::format("{:.2f}%", 100 * beam.per)},
                          {"greedy", fmt::format("{:.2f}%", 100 * greedy.wer), fmt::format("{:.2f}%", 100 * greedy.per)}}});
  std::size_t wrong_maps = 0, right_maps = 0;
  for (std::size_t i = 0; i < test.size() && page.samples.size() < 60; ++i) {
    const bool correct = beam.predicted[i] == test[i].phones;
    if (correct && i % 9) continue;  // every mistake up to the limit, and some right answers
    page.samples.push_back({test[i].word, join_tokens(beam.predicted[i]), join_tokens(test[i].phones), correct});
    auto& count = correct ? right_maps : wrong_maps;
    if (count >= 3 || beam_hypotheses[i].attention.empty()) continue;
    ++count;
    page.heatmaps.push_back(attention_heatmap(fmt::format("{}: {} ({})", test[i].word, join_tokens(beam.predicted[i]),
                                                          correct ? "right" : "reference " + join_tokens(test[i].phones)),
                                              data::characters(test[i].word), beam.predicted[i], beam_hypotheses[i]));
  }
}

G2PData load_run_data(const RunConfig& config) {
  return {load_dict(config), data::Vocabulary::load(config.run_dir + "/vocab.txt"),
          data::Vocabulary::load(config.run_dir + "/phones.txt")};
}

}  // namespace

int train_g2p(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  G2PData g2p{load_dict(config), {}, {}};
  if (g2p.dict.validation.empty() || g2p.dict.test.empty())
    throw ValueError(fmt::format("g2p: {} is too small: its 5% validation or test split is empty", dict_path(config)));
  std::vector<std::vector<std::string>> spellings, pronunciations;
  for (const auto& e : g2p.dict.train) spellings.push_back(data::characters(e.word)), pronunciations.push_back(e.phones);
  g2p.letters = data::Vocabulary::build(spellings);
  g2p.phones = data::Vocabulary::build(pronunciations);
  const Job process = job();
  if (process.root()) {
    g2p.letters.save(config.run_dir + "/vocab.txt");
    g2p.phones.save(config.run_dir + "/phones.txt");
  }
  if (process.root()) std::fprintf(stderr, "g2p: %zu train, %zu validation, %zu test words; %ld letters, %ld phones\n",
               g2p.dict.train.size(), g2p.dict.validation.size(), g2p.dict.test.size(),
               static_cast<long>(g2p.letters.size() - 4), static_cast<long>(g2p.phones.size() - 4));

  manual_seed(config.seed);
  auto model = make_seq2seq(config, g2p.letters.size(), g2p.phones.size());
  data::SequencePairBatches train(encode_words(g2p.letters, g2p.dict.train), encode_phones(g2p.phones, g2p.dict.train),
                                  data::SequenceBatchOptions().batch_size(config.batch).bucket_size(8)
                                      .num_replicas(process.size).rank(process.rank));
  const auto validation_words = encode_words(g2p.letters, g2p.dict.validation);
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_wer", "min"));
  // Cosine decay to 2% of the rate over the run: the last epochs settle instead of hopping.
  optim::CosineAnnealingLR schedule(*optimizer, config.epochs, config.lr * 0.02);
  trainer.set_scheduler(&schedule);
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const std::int64_t vocab = g2p.phones.size();
  const auto result = trainer.fit(
      train,
      [&](const optim::Batch& b) {  // {source, source lengths, target input, target output, target lengths}
        const auto out = model.forward(b[0], b[1], b[2], b[4]);
        return cross_entropy(out.logits.reshape({-1, vocab}), b[3].reshape({-1}));
      },
      [&] {
        const auto rates = score(decode_all(model, validation_words, config, 1), g2p.phones, g2p.dict.validation);
        return std::map<std::string, double>{{"val_wer", rates.wer}, {"val_per", rates.per}};
      });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files (every rank validated it all)
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load_best(config, model);

  nlohmann::ordered_json metrics;
  metrics["task"] = "g2p";
  report::Report page;
  evaluate(config, model, g2p, metrics, page);
  metrics["best_epoch"] = result.best_epoch;
  metrics["best_val_wer"] = result.best_value;
  metrics["train_seconds"] = seconds;
  page.title = seq2seq_title(config);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_g2p(const RunConfig& config) {
  const auto g2p = load_run_data(config);
  auto model = make_seq2seq(config, g2p.letters.size(), g2p.phones.size());
  load_best(config, model);
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, model, g2p, metrics, unused);
  });
}

int pronounce(const RunConfig& config, const std::vector<std::string>& words) {
  if (words.empty()) throw ValueError("pronounce: expected one or more words after the run folder");
  const auto letters = data::Vocabulary::load(config.run_dir + "/vocab.txt");
  const auto phones = data::Vocabulary::load(config.run_dir + "/phones.txt");
  std::vector<std::vector<std::int64_t>> encoded;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word.empty()) throw ValueError(fmt::format("pronounce: word {} is empty", i + 1));
    std::string unknown;
    for (const auto& c : data::characters(word))
      if (!letters.contains(c) && unknown.find(c) == std::string::npos) unknown += c;
    if (!unknown.empty())
      throw ValueError(fmt::format("pronounce: \"{}\" has characters the model has not seen: \"{}\" (it knows "
                                   "a-z and the apostrophe)", words[i], unknown));
    encoded.push_back(encode_word(letters, word));
  }
  auto model = make_seq2seq(config, letters.size(), phones.size());
  load_best(config, model);
  const auto hypotheses = decode_all(model, encoded, config, config.beam);
  for (std::size_t i = 0; i < words.size(); ++i)
    std::printf("%s\t%s\n", words[i].c_str(), join_tokens(phones.decode(hypotheses[i].tokens)).c_str());
  return 0;
}

namespace {
const InferenceCommand pronounce_command =
    inputs_command("pronounce", "Phones of words with a trained g2p run", "words", "Words to pronounce", false, pronounce);
}  // namespace

const Task& g2p_task() {
  static const Task task{
      "g2p",
      "the phones of English words (CMU Pronouncing Dictionary) with an attentional encoder-decoder",
      /*data=*/"",
      /*fetch=*/"g2p",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 112k words of a few letters each
        if (unset("hidden")) config.hidden = 256;
        if (unset("dropout")) config.dropout = 0.2;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("epochs")) config.epochs = 12;  // validation WER still fell at 8 (30.5% test)
        if (unset("batch")) config.batch = 128;
      },
      train_g2p,
      eval_g2p,
      &pronounce_command};
  return task;
}

}  // namespace loom::tools
