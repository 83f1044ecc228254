// The translate task: English -> Spanish Bible verses with an attentional Seq2Seq (stacked or GNMT),
// over words or SentencePiece subwords.
// The verse pairs come from Debian's SWORD modules (`bash scripts/fetch_data.sh translate`:
// web-es.tsv, World English Bible and Reina-Valera 1909, public domain), split by whole books
// (data::load_bible_pairs): test = Galatians, Ephesians, Philippians, Colossians, I and II
// Thessalonians, Hebrews and James; validation = I and II Peter, I-III John and Jude; the rest
// trains. With words, both sides are tokenized (lower case, punctuation split) and the word tables
// come from the training verses alone (min_frequency, at most kMaxVocabulary words a side; the
// rest is <unk>; the output is truecased, each Spanish word in its commonest training form); with
// --subwords N, a SentencePiece model of N pieces a side (or one shared) is trained on the
// training verses alone and saved in the run folder. Training pairs longer than
// max_tokens units on either side are left out for speed; BLEU is measured on every verse of the
// held-out books, however long, on detokenised text with sacreBLEU's 13a tokenisation (chrF too;
// the word-level figure this task reported before stays beside it as test_bleu_tokenized).
// Validation picks the epoch by greedy corpus BLEU; the test verses are decoded with beam search
// (and greedily, for comparison).
#include "translate_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "loom/data.h"
#include "loom/loom.h"
#include "loom/optim.h"
#include "report.h"
#include "seq2seq_task_common.h"
#include "subwords.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

// The largest word table of each side, specials included: the output softmax costs
// hidden x this per target word, and the Spanish words past ~8,000 occur a handful of times.
constexpr std::int64_t kMaxVocabulary = 8000;
constexpr std::size_t kReportSamples = 30, kReportHeatmaps = 4, kHeatmapMaxTokens = 24;

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

// One language's units: a word table over data::tokenize, or a SentencePiece model.
struct Units {
  std::optional<data::Vocabulary> words;
  std::optional<data::Truecaser> casing;  // the output side's words: their cased forms
  std::optional<SubwordModel> subwords;

  std::int64_t size() const { return words ? words->size() : subwords->size(); }
  std::vector<std::int64_t> encode(const std::string& text) const {
    return words ? words->encode(data::tokenize(text)) : subwords->encode(text);
  }
  // The units of a text or of ids, as the report shows them (words, <unk> kept, or pieces).
  std::vector<std::string> tokens(const std::string& text) const {
    return words ? data::tokenize(text) : subwords->pieces(subwords->encode(text));
  }
  std::vector<std::string> tokens(const std::vector<std::int64_t>& ids) const {
    return words ? words->decode(ids, /*keep_specials=*/true) : subwords->pieces(ids);
  }
  // Detokenised text: what BLEU 13a, chrF and `loom translate` read (words truecased when the
  // run has their forms: runs from before 2026-12-04 write lower case).
  std::string text(const std::vector<std::int64_t>& ids) const {
    if (!words) return subwords->decode(ids);
    return detokenize(casing ? casing->apply(tokens(ids)) : tokens(ids));
  }
  // The task's former BLEU tokens: lower-cased words, <unk> kept (it matches no reference word).
  data::Tokens tokenized(const std::vector<std::int64_t>& ids) const {
    return words ? tokens(ids) : data::tokenize(text(ids));
  }
};

struct TranslateData {
  data::BibleSplits verses;
  Units english, spanish;
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

std::vector<std::string> side(const std::vector<data::VersePair>& verses, bool spanish) {
  std::vector<std::string> out;
  for (const auto& v : verses) out.push_back(spanish ? v.spanish : v.english);
  return out;
}

// The Spanish words' cased forms, beside spanish.txt.
std::string casing_path(const RunConfig& config) { return config.run_dir + "/spanish_case.txt"; }

// Where a run keeps a language's units: english.txt / spanish.txt (words), english.model /
// spanish.model, or one subwords.model for both.
std::string units_path(const RunConfig& config, bool spanish) {
  if (config.subwords == 0) return config.run_dir + (spanish ? "/spanish.txt" : "/english.txt");
  if (config.shared_subwords) return config.run_dir + "/subwords.model";
  return config.run_dir + (spanish ? "/spanish.model" : "/english.model");
}

Units load_units(const RunConfig& config, bool spanish) {
  Units units;
  if (config.subwords == 0) {
    units.words = data::Vocabulary::load(units_path(config, spanish));
    if (spanish && std::filesystem::exists(casing_path(config)))
      units.casing = data::Truecaser::load(casing_path(config), *units.words);
  } else
    units.subwords = SubwordModel::load(units_path(config, spanish));
  return units;
}

// Both languages' units from the training verses alone.
void build_units(const RunConfig& config, const data::BibleSplits& verses, Units& english, Units& spanish) {
  const auto english_text = side(verses.train, false), spanish_text = side(verses.train, true);
  if (config.subwords == 0) {
    std::vector<data::Tokens> english_words, spanish_words;
    for (const auto& t : english_text) english_words.push_back(data::tokenize(t));
    for (const auto& t : spanish_text) spanish_words.push_back(data::tokenize(t));
    const auto options = data::VocabularyOptions().min_frequency(config.min_frequency).max_size(kMaxVocabulary);
    english.words = data::Vocabulary::build(english_words, options);
    spanish.words = data::Vocabulary::build(spanish_words, options);
    spanish.casing = data::Truecaser::learn(*spanish.words, spanish_text);
    return;
  }
  const auto options = SubwordOptions().vocab_size(config.subwords).type(config.subword_type);
  if (config.shared_subwords) {
    auto both = english_text;
    both.insert(both.end(), spanish_text.begin(), spanish_text.end());
    english.subwords = spanish.subwords = SubwordModel::train(both, options);
    return;
  }
  english.subwords = SubwordModel::train(english_text, options);
  spanish.subwords = SubwordModel::train(spanish_text, options);
}

void save_units(const RunConfig& config, const Units& english, const Units& spanish) {
  if (english.words) {
    english.words->save(units_path(config, false));
    spanish.words->save(units_path(config, true));
    spanish.casing->save(casing_path(config), *spanish.words);
    return;
  }
  english.subwords->save(units_path(config, false));
  if (!config.shared_subwords) spanish.subwords->save(units_path(config, true));
}

std::vector<std::vector<std::int64_t>> encode(const Units& units, const std::vector<std::string>& texts) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& t : texts) out.push_back(units.encode(t));
  return out;
}

struct Scores {
  data::BleuScore bleu;       // 13a on detokenised text
  double chrf = 0.0;          // in [0, 1]
  data::BleuScore tokenized;  // the former definition: lower-cased words
  std::vector<std::string> predicted;  // detokenised
};

// The hypotheses as detokenised text: what BLEU 13a and chrF read.
std::vector<std::string> texts(const std::vector<models::Hypothesis>& hypotheses, const Units& spanish) {
  std::vector<std::string> out;
  for (const auto& h : hypotheses) out.push_back(spanish.text(h.tokens));
  return out;
}

Scores score(const std::vector<models::Hypothesis>& hypotheses, const Units& spanish,
             const std::vector<std::string>& references) {
  Scores s;
  s.predicted = texts(hypotheses, spanish);
  std::vector<data::Tokens> tokenized, reference_tokens;
  for (const auto& h : hypotheses) tokenized.push_back(spanish.tokenized(h.tokens));
  for (const auto& r : references) reference_tokens.push_back(data::tokenize(r));
  s.bleu = data::corpus_bleu_13a(s.predicted, references);
  s.chrf = data::corpus_chrf(s.predicted, references);
  s.tokenized = data::corpus_bleu(tokenized, reference_tokens);
  return s;
}

std::vector<std::string> bleu_row(const std::string& decoding, const data::BleuScore& s) {
  return {decoding,
          fmt::format("{:.2f}", 100 * s.score),
          fmt::format("{:.1f} / {:.1f} / {:.1f} / {:.1f}", 100 * s.precisions[0], 100 * s.precisions[1],
                      100 * s.precisions[2], 100 * s.precisions[3]),
          fmt::format("{:.3f}", s.brevity_penalty),
          fmt::format("{:.3f}", static_cast<double>(s.hypothesis_length) / static_cast<double>(s.reference_length))};
}

std::vector<std::string> scores_row(const std::string& decoding, const Scores& s) {
  auto row = bleu_row(decoding, s.bleu);
  row.push_back(fmt::format("{:.2f}", 100 * s.chrf));
  row.push_back(fmt::format("{:.2f}", 100 * s.tokenized.score));
  return row;
}

// The test figures into `metrics`, and the report's table, heatmaps and samples into `page`.
void evaluate(const RunConfig& config, models::Seq2Seq& model, const TranslateData& d, nlohmann::ordered_json& metrics,
              report::Report& page) {
  const auto& test = d.verses.test;
  const auto sources = side(test, false), references = side(test, true);
  const auto encoded = encode(d.english, sources);
  const auto beam_hypotheses = decode_all(model, encoded, config, config.beam);
  const auto beam = score(beam_hypotheses, d.spanish, references);
  const auto greedy = score(decode_all(model, encoded, config, 1), d.spanish, references);
  metrics["test_books"] = fmt::format("{}", fmt::join(data::bible_test_books(), ", "));
  metrics["test_verses"] = test.size();
  metrics["test_bleu"] = 100 * beam.bleu.score;
  metrics["bleu_definition"] = "corpus BLEU-4 on detokenised text, sacreBLEU's 13a tokenisation and exp smoothing, case-sensitive";
  metrics["test_chrf"] = 100 * beam.chrf;
  metrics["beam_size"] = config.beam;
  metrics["test_bleu_greedy"] = 100 * greedy.bleu.score;
  metrics["test_chrf_greedy"] = 100 * greedy.chrf;
  for (std::size_t n = 0; n < 4; ++n) metrics[fmt::format("test_precision_{}", n + 1)] = 100 * beam.bleu.precisions[n];
  metrics["test_brevity_penalty"] = beam.bleu.brevity_penalty;
  metrics["test_hypothesis_words"] = beam.bleu.hypothesis_length;
  metrics["test_reference_words"] = beam.bleu.reference_length;
  // The figure this task reported before (lower-cased words of data::tokenize), for comparison.
  metrics["test_bleu_tokenized"] = 100 * beam.tokenized.score;

  page.tables.push_back({fmt::format("Test BLEU ({} verses of {}; every verse, however long)", test.size(),
                                     fmt::join(data::bible_test_books(), ", ")),
                         {"decoding", "BLEU (13a)", "1-4-gram precisions (%)", "brevity penalty", "length ratio", "chrF",
                          "BLEU (lower-cased words, as before)"},
                         {scores_row(fmt::format("beam search, beam {}", config.beam), beam),
                          scores_row("greedy", greedy)}});
  const std::size_t step = std::max<std::size_t>(1, test.size() / kReportSamples);
  for (std::size_t i = 0; i < test.size() && page.samples.size() < kReportSamples; i += step) {
    page.samples.push_back({test[i].reference + ": " + test[i].english, beam.predicted[i], references[i],
                            beam.predicted[i] == references[i]});
    const auto source_tokens = d.english.tokens(sources[i]);
    if (page.heatmaps.size() < kReportHeatmaps && source_tokens.size() <= kHeatmapMaxTokens &&
        !beam_hypotheses[i].attention.empty())
      page.heatmaps.push_back(attention_heatmap(fmt::format("{}: {}", test[i].reference, beam.predicted[i]),
                                                source_tokens, d.spanish.tokens(beam_hypotheses[i].tokens),
                                                beam_hypotheses[i]));
  }
}

TranslateData load_run_data(const RunConfig& config) {
  return {load_verses(config), load_units(config, false), load_units(config, true)};
}

}  // namespace

int train_translate(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  TranslateData d{load_verses(config), {}, {}};
  build_units(config, d.verses, d.english, d.spanish);
  const auto english = encode(d.english, side(d.verses.train, false));
  const auto spanish = encode(d.spanish, side(d.verses.train, true));
  // Long verses are few but cost the most steps: leave them out of training only.
  std::vector<std::vector<std::int64_t>> kept_english, kept_spanish;
  for (std::size_t i = 0; i < english.size(); ++i) {
    const auto longest = static_cast<std::int64_t>(std::max(english[i].size(), spanish[i].size()));
    if (config.max_tokens > 0 && longest > config.max_tokens) continue;
    kept_english.push_back(english[i]);
    kept_spanish.push_back(spanish[i]);
  }
  const char* unit = config.subwords > 0 ? "pieces" : "words";
  if (kept_english.empty())
    throw ValueError(fmt::format("translate: no training pair has at most {} {} a side; raise --max-tokens",
                                 config.max_tokens, unit));
  const Job process = job();
  if (process.root()) {
    save_units(config, d.english, d.spanish);
    std::fprintf(stderr, "translate: %zu training pairs (%zu longer than %ld %s left out), %zu validation, %zu test "
                 "verses; %ld English, %ld Spanish %s\n", kept_english.size(), english.size() - kept_english.size(),
                 static_cast<long>(config.max_tokens), unit, d.verses.validation.size(), d.verses.test.size(),
                 static_cast<long>(d.english.size() - 4), static_cast<long>(d.spanish.size() - 4),
                 config.subwords > 0 ? "pieces (specials left out)" : "words");
  }

  manual_seed(config.seed);
  auto model = make_seq2seq(config, d.english.size(), d.spanish.size());
  data::SequencePairBatches train(kept_english, kept_spanish,
                                  data::SequenceBatchOptions().batch_size(config.batch).bucket_size(8)
                                      .num_replicas(process.size).rank(process.rank));
  const auto validation_sources = encode(d.english, side(d.verses.validation, false));
  const auto validation_references = side(d.verses.validation, true);
  // Every validation verse, however long, teacher-forced for the validation loss.
  const auto validation_targets = encode(d.spanish, validation_references);
  double validation_tokens = 0;  // each target and its <eos>
  for (const auto& target : validation_targets) validation_tokens += target.size() + 1;
  data::SequencePairBatches validation_pairs(validation_sources, validation_targets,
                                             data::SequenceBatchOptions().batch_size(config.batch).bucket_size(8));
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_bleu", "max"));
  // The run's length is set by time more than by epochs: halve the rate when the validation loss
  // has not fallen for two epochs, rather than follow a schedule over epochs it may never reach.
  // Not on BLEU: an early model's BLEU is under 1 and its changes are noise, on which a plateau
  // halved the rate epoch after epoch (2e-3 to 1e-6 in 14 epochs, README "First item-5 runs").
  optim::ReduceLROnPlateau plateau(*optimizer, optim::PlateauOptions().mode("min").factor(0.5).patience(1));
  trainer.set_plateau(&plateau, "val_loss");
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const std::int64_t vocab = d.spanish.size();
  // Teacher-forced cross entropy of a batch {source, source lengths, target input, target output,
  // target lengths}: the mean per token for training, the sum for the validation loss.
  const auto batch_loss = [&](const optim::Batch& b, Reduction reduction) {
    const auto out = model.forward(b[0], b[1], b[2], b[4]);
    return cross_entropy(out.logits.reshape({-1, vocab}), b[3].reshape({-1}),
                         CrossEntropyOptions().set_reduction(reduction));
  };
  const auto result = trainer.fit(
      train, [&](const optim::Batch& b) { return batch_loss(b, Reduction::Mean); },
      [&] {
        // BLEU 13a alone: chrF and the former BLEU would be computed every epoch for nothing
        const auto predicted = texts(decode_all(model, validation_sources, config, 1), d.spanish);
        double loss_sum = 0;
        for (std::int64_t i = 0; i < validation_pairs.num_batches(); ++i)
          loss_sum += batch_loss(validation_pairs.batch(i), Reduction::Sum).item();
        return std::map<std::string, double>{
            {"val_bleu", 100 * data::corpus_bleu_13a(predicted, validation_references).score},
            {"val_loss", loss_sum / validation_tokens}};
      });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files (every rank validated it all)
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load_best(config, model);

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
  metrics["max_train_units"] = config.max_tokens;
  metrics["units"] = config.subwords > 0 ? fmt::format("{} subwords{}", config.subword_type,
                                                       config.shared_subwords ? " (shared)" : "")
                                         : "words";
  metrics["english_units"] = d.english.size() - 4;
  metrics["spanish_units"] = d.spanish.size() - 4;
  metrics["train_seconds"] = seconds;
  page.title = seq2seq_title(config);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_translate(const RunConfig& config) {
  const auto d = load_run_data(config);
  auto model = make_seq2seq(config, d.english.size(), d.spanish.size());
  load_best(config, model);
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, model, d, metrics, unused);
  });
}

int translate_sentences(const RunConfig& config, const std::vector<std::string>& sentences) {
  if (sentences.empty()) throw ValueError("translate: expected one or more sentences after the run folder");
  const auto english = load_units(config, false), spanish = load_units(config, true);
  std::vector<std::vector<std::int64_t>> encoded;
  std::vector<std::string> unknown;  // words only: subwords spell any word
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    if (data::tokenize(sentences[i]).empty()) throw ValueError(fmt::format("translate: sentence {} is empty", i + 1));
    if (english.words)
      for (const auto& w : data::tokenize(sentences[i]))
        if (!english.words->contains(w) && std::find(unknown.begin(), unknown.end(), w) == unknown.end())
          unknown.push_back(w);
    encoded.push_back(english.encode(sentences[i]));
  }
  auto model = make_seq2seq(config, english.size(), spanish.size());
  load_best(config, model);
  if (!unknown.empty())
    std::fprintf(stderr, "translate: words the model has not seen, read as <unk>: %s\n",
                 fmt::format("{}", fmt::join(unknown, " ")).c_str());
  const auto hypotheses = decode_all(model, encoded, config, config.beam);
  for (const auto& h : hypotheses) std::printf("%s\n", spanish.text(h.tokens).c_str());
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
      "English -> Spanish Bible verses (World English Bible -> Reina-Valera 1909), words or subwords, attentional "
      "encoder-decoder (stacked or GNMT)",
      /*data=*/"",
      /*fetch=*/"translate",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 29,700 verse pairs; the budget is two hours
        // GNMT-4 over 8,000 unigram pieces a side: the best of the README's item-5 table
        if (unset("arch")) config.arch = "gnmt";
        if (unset("layers")) config.layers = 4;
        if (unset("subwords")) config.subwords = 8000;
        if (unset("embedding_dim")) config.embedding_dim = 256;
        if (unset("hidden")) config.hidden = 256;
        if (unset("dropout")) config.dropout = 0.25;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("lr")) config.lr = 2e-3;
        if (unset("epochs")) config.epochs = 30;
        if (unset("batch")) config.batch = 64;
        if (unset("min_frequency")) config.min_frequency = 2;
        // training pairs longer on either side are left out; a verse has about 1.3 pieces a word
        if (unset("max_tokens")) config.max_tokens = config.subwords > 0 ? 52 : 40;
        if (unset("time_limit")) config.time_limit = 115;  // stops after the epoch that passes it
      },
      train_translate,
      eval_translate,
      &translate_command};
  return task;
}

}  // namespace loom::tools
