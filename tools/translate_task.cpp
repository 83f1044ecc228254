// The translate task: English -> Spanish Bible verses, word to word, with an attentional Seq2Seq.
// The verse pairs come from Debian's SWORD modules (`bash scripts/fetch_data.sh translate`:
// web-es.tsv, World English Bible and Reina-Valera 1909, public domain), split by whole books
// (data::load_bible_pairs): test = Galatians, Ephesians, Philippians, Colossians, I and II
// Thessalonians, Hebrews and James; validation = I and II Peter, I-III John and Jude; the rest
// trains. Both sides are tokenized (lower case, punctuation split); the word tables come from the
// training verses alone (min_frequency, at most kMaxVocabulary words a side; the rest is <unk>).
// Training pairs longer than max_tokens on either side are left out for speed; BLEU is measured
// on every verse of the held-out books, however long. Validation picks the epoch by greedy corpus
// BLEU; the test verses are decoded with beam search (and greedily, for comparison).
#include "translate_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "loom/data.h"
#include "loom/loom.h"
#include "loom/optim.h"
#include "report.h"
#include "seq2seq_task_common.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

// The largest word table of each side, specials included: the output softmax costs
// hidden x this per target word, and the Spanish words past ~8,000 occur a handful of times.
constexpr std::int64_t kMaxVocabulary = 8000;
constexpr std::size_t kReportSamples = 30, kReportHeatmaps = 4, kHeatmapMaxWords = 20;

struct TranslateData {
  data::BibleSplits verses;
  data::Vocabulary english, spanish;
};

std::string tsv_path(const RunConfig& config) {
  return std::filesystem::is_regular_file(config.data_dir) ? config.data_dir : config.data_dir + "/web-es.tsv";
}

data::BibleSplits load_verses(const RunConfig& config) {
  const std::string path = tsv_path(config);
  if (!std::filesystem::exists(path))
    throw IOError(fmt::format("translate: {} is missing; run `bash scripts/fetch_data.sh translate` first", path));
  return data::load_bible_pairs(path);
}

std::vector<data::Tokens> tokenize_side(const std::vector<data::VersePair>& verses, bool spanish) {
  std::vector<data::Tokens> out;
  for (const auto& v : verses) out.push_back(data::tokenize(spanish ? v.spanish : v.english));
  return out;
}

std::vector<std::vector<std::int64_t>> encode(const data::Vocabulary& vocab, const std::vector<data::Tokens>& texts) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& t : texts) out.push_back(vocab.encode(t));
  return out;
}

struct Bleu {
  data::BleuScore score;
  std::vector<data::Tokens> predicted;  // <unk> kept: it matches no reference word
};

// Corpus BLEU of the hypotheses against the tokenized Spanish verses (unknown reference words
// included, so the vocabulary cut costs what it costs).
Bleu score(const std::vector<models::Hypothesis>& hypotheses, const data::Vocabulary& spanish,
           const std::vector<data::Tokens>& references) {
  Bleu bleu;
  for (const auto& h : hypotheses) bleu.predicted.push_back(spanish.decode(h.tokens, /*keep_specials=*/true));
  bleu.score = data::corpus_bleu(bleu.predicted, references);
  return bleu;
}

std::vector<std::string> bleu_row(const std::string& decoding, const data::BleuScore& s) {
  return {decoding,
          fmt::format("{:.2f}", 100 * s.score),
          fmt::format("{:.1f} / {:.1f} / {:.1f} / {:.1f}", 100 * s.precisions[0], 100 * s.precisions[1],
                      100 * s.precisions[2], 100 * s.precisions[3]),
          fmt::format("{:.3f}", s.brevity_penalty),
          fmt::format("{:.3f}", static_cast<double>(s.hypothesis_length) / static_cast<double>(s.reference_length))};
}

// The test figures into `metrics`, and the report's table, heatmaps and samples into `page`.
void evaluate(const RunConfig& config, models::Seq2Seq& model, const TranslateData& d, nlohmann::ordered_json& metrics,
              report::Report& page) {
  const auto& test = d.verses.test;
  const auto sources = tokenize_side(test, false);
  const auto references = tokenize_side(test, true);
  const auto encoded = encode(d.english, sources);
  const auto beam_hypotheses = decode_all(model, encoded, config.beam);
  const auto beam = score(beam_hypotheses, d.spanish, references);
  const auto greedy = score(decode_all(model, encoded, 1), d.spanish, references);
  metrics["test_books"] = fmt::format("{}", fmt::join(data::bible_test_books(), ", "));
  metrics["test_verses"] = test.size();
  metrics["test_bleu"] = 100 * beam.score.score;
  metrics["beam_size"] = config.beam;
  metrics["test_bleu_greedy"] = 100 * greedy.score.score;
  for (std::size_t n = 0; n < 4; ++n) metrics[fmt::format("test_precision_{}", n + 1)] = 100 * beam.score.precisions[n];
  metrics["test_brevity_penalty"] = beam.score.brevity_penalty;
  metrics["test_hypothesis_words"] = beam.score.hypothesis_length;
  metrics["test_reference_words"] = beam.score.reference_length;

  page.tables.push_back({fmt::format("Test BLEU ({} verses of {}; every verse, however long)", test.size(),
                                     fmt::join(data::bible_test_books(), ", ")),
                         {"decoding", "BLEU", "1-4-gram precisions (%)", "brevity penalty", "length ratio"},
                         {bleu_row(fmt::format("beam search, beam {}", config.beam), beam.score),
                          bleu_row("greedy", greedy.score)}});
  const std::size_t step = std::max<std::size_t>(1, test.size() / kReportSamples);
  for (std::size_t i = 0; i < test.size() && page.samples.size() < kReportSamples; i += step) {
    page.samples.push_back({test[i].reference + ": " + test[i].english, join_tokens(beam.predicted[i]),
                            join_tokens(references[i]), beam.predicted[i] == references[i]});
    if (page.heatmaps.size() < kReportHeatmaps && sources[i].size() <= kHeatmapMaxWords &&
        !beam_hypotheses[i].attention.empty())
      page.heatmaps.push_back(attention_heatmap(fmt::format("{}: {}", test[i].reference, join_tokens(beam.predicted[i])),
                                                sources[i], beam.predicted[i], beam_hypotheses[i]));
  }
}

TranslateData load_run_data(const RunConfig& config) {
  return {load_verses(config), data::Vocabulary::load(config.run_dir + "/english.txt"),
          data::Vocabulary::load(config.run_dir + "/spanish.txt")};
}

// A translation as text: closing punctuation attaches to the word before it, opening marks to
// the word after ("dijo : ¿ quién ?" -> "dijo: ¿quién?").
std::string detokenize(const data::Tokens& tokens) {
  static const std::set<std::string> closers{".", ",", ";", ":", "?", "!", ")"}, openers{"(", "¿", "¡"};
  std::string out;
  bool glue = true;  // no space before the first word or after an opening mark
  for (const auto& t : tokens) {
    if (!glue && closers.count(t) == 0) out += ' ';
    out += t;
    glue = openers.count(t) > 0;
  }
  return out;
}

}  // namespace

int train_translate(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  TranslateData d{load_verses(config), {}, {}};
  auto english = tokenize_side(d.verses.train, false), spanish = tokenize_side(d.verses.train, true);
  const auto vocabulary = data::VocabularyOptions().min_frequency(config.min_frequency).max_size(kMaxVocabulary);
  d.english = data::Vocabulary::build(english, vocabulary);
  d.spanish = data::Vocabulary::build(spanish, vocabulary);
  // Long verses are few but cost the most steps: leave them out of training only.
  std::vector<data::Tokens> kept_english, kept_spanish;
  for (std::size_t i = 0; i < english.size(); ++i) {
    const auto longest = static_cast<std::int64_t>(std::max(english[i].size(), spanish[i].size()));
    if (config.max_tokens > 0 && longest > config.max_tokens) continue;
    kept_english.push_back(std::move(english[i]));
    kept_spanish.push_back(std::move(spanish[i]));
  }
  if (kept_english.empty())
    throw ValueError(fmt::format("translate: no training pair has at most {} words a side; raise --max-tokens",
                                 config.max_tokens));
  const Job process = job();
  if (process.root()) {
    d.english.save(config.run_dir + "/english.txt");
    d.spanish.save(config.run_dir + "/spanish.txt");
    std::fprintf(stderr, "translate: %zu training pairs (%zu longer than %ld words left out), %zu validation, %zu test "
                 "verses; %ld English, %ld Spanish words\n", kept_english.size(), english.size() - kept_english.size(),
                 static_cast<long>(config.max_tokens), d.verses.validation.size(), d.verses.test.size(),
                 static_cast<long>(d.english.size() - 4), static_cast<long>(d.spanish.size() - 4));
  }

  manual_seed(config.seed);
  auto model = make_seq2seq(config, d.english.size(), d.spanish.size());
  data::SequencePairBatches train(encode(d.english, kept_english), encode(d.spanish, kept_spanish),
                                  data::SequenceBatchOptions().batch_size(config.batch).bucket_size(8)
                                      .num_replicas(process.size).rank(process.rank));
  const auto validation_sources = encode(d.english, tokenize_side(d.verses.validation, false));
  const auto validation_references = tokenize_side(d.verses.validation, true);
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_bleu", "max"));
  // The run's length is set by time more than by epochs: halve the rate whenever validation BLEU
  // stops rising instead of following a schedule over a number of epochs it may never reach.
  optim::ReduceLROnPlateau plateau(*optimizer, optim::PlateauOptions().mode("max").factor(0.5).patience(0));
  trainer.set_plateau(&plateau);
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const std::int64_t vocab = d.spanish.size();
  const auto result = trainer.fit(
      train,
      [&](const optim::Batch& b) {  // {source, source lengths, target input, target output, target lengths}
        const auto out = model.forward(b[0], b[1], b[2], b[4]);
        return cross_entropy(out.logits.reshape({-1, vocab}), b[3].reshape({-1}));
      },
      [&] {
        const auto bleu = score(decode_all(model, validation_sources, 1), d.spanish, validation_references);
        return std::map<std::string, double>{{"val_bleu", 100 * bleu.score.score}};
      });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files (every rank validated it all)
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load(model, config.run_dir + "/best.safetensors");

  nlohmann::ordered_json metrics;
  metrics["task"] = "translate";
  report::Report page;
  evaluate(config, model, d, metrics, page);
  metrics["best_epoch"] = result.best_epoch;
  metrics["epochs_trained"] = result.history.empty() ? 0 : result.history.back().epoch;
  metrics["stopped_by_time_limit"] = result.stopped_by_time_limit;
  metrics["best_val_bleu"] = result.best_value;
  metrics["validation_verses"] = d.verses.validation.size();
  metrics["train_pairs"] = kept_english.size();
  metrics["train_pairs_left_out"] = english.size() - kept_english.size();
  metrics["max_train_words"] = config.max_tokens;
  metrics["english_words"] = d.english.size() - 4;
  metrics["spanish_words"] = d.spanish.size() - 4;
  metrics["train_seconds"] = seconds;
  page.title = seq2seq_title(config);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_translate(const RunConfig& config) {
  const auto d = load_run_data(config);
  auto model = make_seq2seq(config, d.english.size(), d.spanish.size());
  load(model, config.run_dir + "/best.safetensors");
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, model, d, metrics, unused);
  });
}

int translate_sentences(const RunConfig& config, const std::vector<std::string>& sentences) {
  if (sentences.empty()) throw ValueError("translate: expected one or more sentences after the run folder");
  const auto english = data::Vocabulary::load(config.run_dir + "/english.txt");
  const auto spanish = data::Vocabulary::load(config.run_dir + "/spanish.txt");
  std::vector<std::vector<std::int64_t>> encoded;
  std::vector<std::string> unknown;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const auto words = data::tokenize(sentences[i]);
    if (words.empty()) throw ValueError(fmt::format("translate: sentence {} is empty", i + 1));
    for (const auto& w : words)
      if (!english.contains(w) && std::find(unknown.begin(), unknown.end(), w) == unknown.end()) unknown.push_back(w);
    encoded.push_back(english.encode(words));
  }
  auto model = make_seq2seq(config, english.size(), spanish.size());
  load(model, config.run_dir + "/best.safetensors");
  if (!unknown.empty())
    std::fprintf(stderr, "translate: words the model has not seen, read as <unk>: %s\n",
                 fmt::format("{}", fmt::join(unknown, " ")).c_str());
  const auto hypotheses = decode_all(model, encoded, config.beam);
  for (const auto& h : hypotheses) std::printf("%s\n", detokenize(spanish.decode(h.tokens, true)).c_str());
  return 0;
}

namespace {
const InferenceCommand translate_command = inputs_command(
    "translate", "Translate English sentences into Spanish with a translate run", "sentences",
    "English sentences, each one argument (put -- before them when one starts with a dash)", false, translate_sentences);
}  // namespace

const Task& translate_task() {
  static const Task task{
      "translate",
      "English -> Spanish Bible verses (World English Bible -> Reina-Valera 1909), words, attentional encoder-decoder",
      /*data=*/"",
      /*fetch=*/"translate",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 29,700 verse pairs; the budget is two hours
        if (unset("embedding_dim")) config.embedding_dim = 256;
        if (unset("hidden")) config.hidden = 256;
        if (unset("dropout")) config.dropout = 0.25;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("lr")) config.lr = 2e-3;
        if (unset("epochs")) config.epochs = 30;
        if (unset("batch")) config.batch = 64;
        if (unset("min_frequency")) config.min_frequency = 2;
        if (unset("max_tokens")) config.max_tokens = 40;  // training pairs longer on either side are left out
        if (unset("time_limit")) config.time_limit = 120;
      },
      train_translate,
      eval_translate,
      &translate_command};
  return task;
}

}  // namespace loom::tools
