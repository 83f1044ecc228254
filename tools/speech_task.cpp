// The speech task: spoken digit strings (`bash scripts/fetch_data.sh speech`) -> 40 log-mel bands
// every 10 ms -> frames stacked in pairs (20 ms steps: half the recurrent work, and a digit still
// spans 10 steps or more) -> bidirectional LSTM -> a linear layer over the 11 words and the CTC
// blank (class 0) -> CTC loss. Validation picks the epoch by greedy digit error rate; the test
// voices, which training never heard, are decoded with prefix beam search and greedily.
// Digit error rate is the TIDIGITS literature's word error rate: (substitutions + deletions +
// insertions) / reference words.
#include "speech_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "loom/ctc.h"
#include "loom/data.h"
#include "loom/loom.h"
#include "loom/models/sequence_tagger.h"
#include "loom/optim.h"
#include "report.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

constexpr std::int64_t mel_bands = 40, frames_per_step = 2, blank = 0;
// The blank and the 11 words, in the order of data::spoken_digit_symbols().
const std::int64_t num_classes = 1 + static_cast<std::int64_t>(data::spoken_digit_symbols().size());
const std::vector<std::string> word_names = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven",
                                             "eight", "nine"};

struct Utterances {
  std::vector<Tensor> features;  // (T_i, mel_bands * frames_per_step) each
  std::vector<std::vector<std::int64_t>> labels;
  data::SpokenDigits list;
};

// Log-mel frames (T, 40) as steps of two frames (ceil(T / 2), 80); an odd last frame is paired
// with zeros.
Tensor stack_frames(const Tensor& frames) {
  const std::int64_t count = frames.size(0), steps = (count + frames_per_step - 1) / frames_per_step;
  Tensor stacked = zeros({steps * frames_per_step, mel_bands});
  std::copy(frames.data<float>(), frames.data<float>() + frames.numel(), stacked.data<float>());
  return stacked.reshape({steps, frames_per_step * mel_bands});
}

Tensor features_of(const std::string& wav) { return stack_frames(data::wav_log_mel(wav)); }

std::vector<std::int64_t> encode_words(const std::string& words) {
  std::vector<std::int64_t> labels;
  for (const char c : words) labels.push_back(1 + static_cast<std::int64_t>(data::spoken_digit_symbols().find(c)));
  return labels;
}

std::string symbols_of(const std::vector<std::int64_t>& labels) {
  std::string words;
  for (const auto label : labels) words += data::spoken_digit_symbols()[static_cast<std::size_t>(label - 1)];
  return words;
}

std::string spoken_form(const std::string& words) {
  std::string text;
  for (const char c : words)
    text += (text.empty() ? "" : " ") + word_names[data::spoken_digit_symbols().find(c)];
  return text;
}

std::string data_hint(const RunConfig& config) {
  return fmt::format("speech: {} has no spoken digits; run `bash scripts/fetch_data.sh speech` first", config.data_dir);
}

// Each utterance's features, computed on the config's threads (one utterance per worker at a
// time: the result does not depend on the thread count).
Utterances load_part(const RunConfig& config, const std::string& part) {
  if (!std::filesystem::exists(config.data_dir + "/" + part + ".tsv")) throw IOError(data_hint(config));
  Utterances out{{}, {}, data::load_spoken_digits(config.data_dir, part)};
  const std::size_t count = out.list.files.size();
  out.features.resize(count);
  for (const auto& words : out.list.words) out.labels.push_back(encode_words(words));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_lock;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) try {
        out.features[i] = features_of(out.list.files[i]);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(failure_lock);
        if (!failure) failure = std::current_exception();
        next = count;
      }
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < config.threads; ++t) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

// Training batches with each utterance changed as a new speaker and a noisier recording would
// change it: its mel axis warped by a factor in [0.85, 1.15] (vocal tract length perturbation:
// a longer or shorter vocal tract moves every formant by one factor), a band of up to 6 of the
// 40 mel bands and a span of up to a tenth of its steps masked (SpecAugment). The test voices are
// new speakers: every training speaker becomes many. Each batch's draws come from a generator seeded
// by the run's seed, the epoch and the batch, so a resumed run sees the same batches.
class AugmentedBatches : public optim::BatchSource {
 public:
  AugmentedBatches(data::FeatureSequenceBatches batches, std::uint64_t seed) : batches_(std::move(batches)), seed_(seed) {}
  std::int64_t num_batches() const override { return batches_.num_batches(); }
  void start_epoch(std::int64_t epoch, Generator& generator) override {
    epoch_ = epoch;
    batches_.start_epoch(epoch, generator);
  }
  optim::Batch batch(std::int64_t index) override {
    auto batch = batches_.batch(index);
    Generator generator(seed_ ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(epoch_ * 1000003 + index + 1)));
    Tensor features = batch[0];  // (B, T, frames_per_step * mel_bands), padded
    const std::int64_t steps = features.size(1);
    const auto lengths = batch[1].to_vector<std::int64_t>();
    std::vector<float> band(mel_bands);
    for (std::int64_t b = 0; b < features.size(0); ++b) {
      float* utterance = features.data<float>() + b * steps * frames_per_step * mel_bands;
      const double warp = 0.85 + 0.3 * generator.uniform();
      const auto masked_first = static_cast<std::int64_t>(generator.uniform() * mel_bands);
      const auto masked_bands = static_cast<std::int64_t>(generator.uniform() * 7);
      const auto masked_steps = static_cast<std::int64_t>(generator.uniform() * (lengths[b] / 10 + 1));
      const auto masked_start = static_cast<std::int64_t>(generator.uniform() * (lengths[b] - masked_steps + 1));
      for (std::int64_t frame = 0; frame < lengths[b] * frames_per_step; ++frame) {
        float* bands = utterance + frame * mel_bands;
        for (std::int64_t m = 0; m < mel_bands; ++m) {  // band m reads the original at m / warp
          const double at = std::min(m / warp, static_cast<double>(mel_bands - 1));
          const auto below = static_cast<std::int64_t>(at);
          const auto above = std::min(below + 1, mel_bands - 1);
          band[m] = static_cast<float>(bands[below] + (at - below) * (bands[above] - bands[below]));
        }
        for (std::int64_t m = masked_first; m < std::min(masked_first + masked_bands, mel_bands); ++m) band[m] = 0.0f;
        if (frame / frames_per_step >= masked_start && frame / frames_per_step < masked_start + masked_steps)
          std::fill(band.begin(), band.end(), 0.0f);
        std::copy(band.begin(), band.end(), bands);
      }
    }
    return batch;
  }

 private:
  data::FeatureSequenceBatches batches_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0;
};

models::SequenceTagger make_model(const RunConfig& config) {
  return models::SequenceTagger(models::SequenceTaggerOptions(num_classes)
                                    .input_features(mel_bands * frames_per_step)
                                    .cell(config.cell)
                                    .hidden_size(config.hidden)
                                    .num_layers(config.layers)
                                    .bidirectional(config.bidirectional)
                                    .dropout(config.dropout));
}

// features (B, T, F), lengths (B) -> CTC log-probabilities (T, B, C)
Tensor log_probs_of(models::SequenceTagger& model, const Tensor& features, const Tensor& lengths) {
  return log_softmax(model.forward(features, lengths), 2).transpose(0, 1);
}

struct Decoded {
  std::vector<std::vector<std::string>> words;  // per beam width asked: one string per utterance
  std::vector<Tensor> posteriors;               // (T_i, C) per utterance, when kept
};

// Every utterance decoded with each of `beams` (1: the greedy best path) from one forward pass,
// in batches of similar length.
Decoded decode(models::SequenceTagger& model, const Utterances& utterances, const std::vector<std::int64_t>& beams,
               bool keep_posteriors) {
  NoGradGuard no_grad;
  model.eval();
  data::FeatureSequenceBatches batches(utterances.features, utterances.labels,
                                       data::SequenceBatchOptions().batch_size(64).bucket_size(100).shuffle(false));
  Decoded out;
  out.words.assign(beams.size(), std::vector<std::string>(utterances.features.size()));
  if (keep_posteriors) out.posteriors.resize(utterances.features.size());
  for (std::int64_t index = 0; index < batches.num_batches(); ++index) {
    const auto batch = batches.batch(index);
    const Tensor log_probs = log_probs_of(model, batch[0], batch[1]);  // (T, B, C)
    const auto lengths = batch[1].to_vector<std::int64_t>();
    const auto& rows = batches.batch_indices(index);
    for (std::size_t which = 0; which < beams.size(); ++which) {
      const auto best = ctc_best_labels(log_probs, lengths, beams[which], blank);
      for (std::size_t b = 0; b < rows.size(); ++b) out.words[which][static_cast<std::size_t>(rows[b])] = symbols_of(best[b]);
    }
    if (keep_posteriors)
      for (std::size_t b = 0; b < rows.size(); ++b)
        out.posteriors[static_cast<std::size_t>(rows[b])] =
            exp(log_probs.select(1, static_cast<std::int64_t>(b)).narrow(0, 0, lengths[b]));
  }
  model.train();
  return out;
}

struct Scores {
  double digit_error_rate = 0.0, string_accuracy = 0.0;
  // Per reference length 1..max: utterances, digit errors, reference digits, right strings.
  std::vector<std::array<std::int64_t, 4>> by_length;
};

Scores score(const std::vector<std::string>& predicted, const std::vector<std::string>& references) {
  Scores scores;
  std::int64_t errors = 0, digits = 0, right = 0;
  for (std::size_t i = 0; i < references.size(); ++i) {
    const auto distance = data::edit_distance(encode_words(predicted[i]), encode_words(references[i]));
    const auto length = references[i].size();
    if (scores.by_length.size() < length) scores.by_length.resize(length, {0, 0, 0, 0});
    auto& row = scores.by_length[length - 1];
    row[0] += 1, row[1] += distance, row[2] += static_cast<std::int64_t>(length), row[3] += distance == 0;
    errors += distance, digits += static_cast<std::int64_t>(length), right += distance == 0;
  }
  scores.digit_error_rate = static_cast<double>(errors) / std::max<std::int64_t>(digits, 1);
  scores.string_accuracy = static_cast<double>(right) / std::max<std::size_t>(references.size(), 1);
  return scores;
}

// The spectrogram (40 bands, low frequencies at the bottom) with the CTC posteriors under it
// (a row per class, blank first, each 3 pixels high; each 20 ms step under its two frames).
report::Picture posterior_picture(const Tensor& features, const Tensor& posteriors, std::vector<std::string> lines,
                                  bool correct) {
  const std::int64_t steps = features.size(0), width = steps * frames_per_step, gap = 2, class_rows = 3;
  const std::int64_t height = mel_bands + gap + num_classes * class_rows;
  report::Picture picture{width, height, std::vector<double>(static_cast<std::size_t>(width * height), 1.0),
                          std::move(lines), correct};
  const auto frames = features.reshape({width, mel_bands}).to_vector<double>();
  const auto [low, high] = std::minmax_element(frames.begin(), frames.end());
  const auto probabilities = posteriors.to_vector<double>();
  for (std::int64_t x = 0; x < width; ++x) {
    for (std::int64_t band = 0; band < mel_bands; ++band)
      picture.pixels[(mel_bands - 1 - band) * width + x] =
          (frames[x * mel_bands + band] - *low) / std::max(*high - *low, 1e-9);
    for (std::int64_t c = 0; c < num_classes; ++c)
      for (std::int64_t r = 0; r < class_rows; ++r)
        picture.pixels[(mel_bands + gap + c * class_rows + r) * width + x] =
            1.0 - probabilities[(x / frames_per_step) * num_classes + c];  // dark = likely
  }
  return picture;
}

// The test figures into `metrics`, and the report's tables, pictures and samples into `page`.
void evaluate(const RunConfig& config, models::SequenceTagger& model, const Utterances& test,
              nlohmann::ordered_json& metrics, report::Report& page) {
  const auto decoded = decode(model, test, {config.beam, 1}, true);
  const auto& beam_words = decoded.words[0];
  const auto beam_scores = score(beam_words, test.list.words), greedy_scores = score(decoded.words[1], test.list.words);
  metrics["test_utterances"] = test.list.words.size();
  metrics["test_digit_error_rate"] = beam_scores.digit_error_rate;
  metrics["test_string_accuracy"] = beam_scores.string_accuracy;
  metrics["beam_size"] = config.beam;
  metrics["test_digit_error_rate_greedy"] = greedy_scores.digit_error_rate;
  metrics["test_string_accuracy_greedy"] = greedy_scores.string_accuracy;

  page.tables.push_back({fmt::format("Test error rates ({} utterances, voices unseen in training)", test.list.words.size()),
                         {"decoding", "digit error rate", "string accuracy"},
                         {{fmt::format("prefix beam search, beam {}", config.beam),
                           fmt::format("{:.2f}%", 100 * beam_scores.digit_error_rate),
                           fmt::format("{:.3f}", beam_scores.string_accuracy)},
                          {"greedy (best path)", fmt::format("{:.2f}%", 100 * greedy_scores.digit_error_rate),
                           fmt::format("{:.3f}", greedy_scores.string_accuracy)}}});
  report::Table by_length{"By length (beam search)", {"digits", "utterances", "digit error rate", "string accuracy"}, {}};
  for (std::size_t length = 0; length < beam_scores.by_length.size(); ++length) {
    const auto& row = beam_scores.by_length[length];
    if (row[0] == 0) continue;
    by_length.rows.push_back({std::to_string(length + 1), std::to_string(row[0]),
                              fmt::format("{:.2f}%", 100.0 * row[1] / row[2]), fmt::format("{:.3f}", double(row[3]) / row[0])});
  }
  page.tables.push_back(std::move(by_length));
  // Per voice: which unseen speakers are hard.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> by_voice;
  for (std::size_t i = 0; i < test.list.voices.size(); ++i) {
    by_voice[test.list.voices[i]].first.push_back(beam_words[i]);
    by_voice[test.list.voices[i]].second.push_back(test.list.words[i]);
  }
  report::Table voices{"By voice (beam search)", {"voice", "utterances", "digit error rate", "string accuracy"}, {}};
  for (const auto& [voice, pair] : by_voice) {
    const auto s = score(pair.first, pair.second);
    voices.rows.push_back({voice, std::to_string(pair.second.size()), fmt::format("{:.2f}%", 100 * s.digit_error_rate),
                           fmt::format("{:.3f}", s.string_accuracy)});
  }
  page.tables.push_back(std::move(voices));

  std::vector<bool> correct;
  for (std::size_t i = 0; i < test.list.words.size(); ++i) correct.push_back(beam_words[i] == test.list.words[i]);
  for (const auto i : report::pick_samples(correct, 40, 20))
    page.samples.push_back({fmt::format("{} ({})", std::filesystem::path(test.list.files[i]).filename().string(),
                                        test.list.voices[i]),
                            spoken_form(beam_words[i]), spoken_form(test.list.words[i]), correct[i]});
  for (const auto i : report::pick_samples(correct, 4, 4))
    page.pictures.push_back(posterior_picture(
        test.features[i], decoded.posteriors[i],
        {fmt::format("heard: {}", spoken_form(beam_words[i])), fmt::format("said: {}", spoken_form(test.list.words[i])),
         fmt::format("{}; under the spectrogram, P(blank, zero, oh, one ... nine) per 20 ms", test.list.voices[i])},
        correct[i]));
}

}  // namespace

int train_speech(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  const Job process = job();
  const auto train = load_part(config, "train");
  const auto validation = load_part(config, "validation");
  if (process.root())
    std::fprintf(stderr, "speech: %zu training, %zu validation utterances (features in %.1f s)\n",
                 train.features.size(), validation.features.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  manual_seed(config.seed);
  auto model = make_model(config);
  AugmentedBatches batches(data::FeatureSequenceBatches(train.features, train.labels,
                                                        data::SequenceBatchOptions().batch_size(config.batch).bucket_size(20)
                                                            .num_replicas(process.size).rank(process.rank)),
                           config.seed);
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_digit_error_rate", "min"));
  optim::CosineAnnealingLR schedule(*optimizer, config.epochs, config.lr * 0.02);
  trainer.set_scheduler(&schedule);
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const auto result = trainer.fit(
      batches,
      [&](const optim::Batch& b) {  // {features (B, T, 80), lengths (B), targets (B, S), target lengths (B)}
        return ctc_loss(log_probs_of(model, b[0], b[1]), b[2], b[1], b[3], CtcLossOptions().set_blank(blank));
      },
      [&] {
        const auto scores = score(decode(model, validation, {1}, false).words[0], validation.list.words);
        return std::map<std::string, double>{{"val_digit_error_rate", scores.digit_error_rate},
                                             {"val_string_accuracy", scores.string_accuracy}};
      });
  if (!process.root()) return 0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load_best(config, model);

  nlohmann::ordered_json metrics;
  metrics["task"] = "speech";
  report::Report page;
  evaluate(config, model, load_part(config, "test"), metrics, page);
  metrics["best_epoch"] = result.best_epoch;
  metrics["best_val_digit_error_rate"] = result.best_value;
  metrics["train_seconds"] = seconds;
  page.title = fmt::format("loom speech: {}-layer bi{} {} over log-mel frames, CTC; {}", config.layers,
                           config.cell == "gru" ? "GRU" : "LSTM", config.hidden, config.run_dir);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_speech(const RunConfig& config) {
  auto model = make_model(config);
  load_best(config, model);
  const auto test = load_part(config, "test");
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, model, test, metrics, unused);
  });
}

int transcribe(const RunConfig& config, const std::vector<std::string>& paths) {
  if (paths.empty()) throw ValueError("transcribe: expected one or more WAV files after the run folder");
  Utterances utterances;
  for (const auto& path : paths) {
    utterances.features.push_back(features_of(path));
    utterances.labels.emplace_back();
  }
  auto model = make_model(config);
  load_best(config, model);
  const auto heard = decode(model, utterances, {config.beam}, false).words[0];
  for (std::size_t i = 0; i < paths.size(); ++i)
    std::printf("%s\t%s\n", paths[i].c_str(), heard[i].empty() ? "(nothing heard)" : spoken_form(heard[i]).c_str());
  return 0;
}

namespace {
const InferenceCommand transcribe_command = inputs_command(
    "transcribe", "The digits spoken in WAV files, with a trained speech run", "files",
    "16-bit PCM WAV files (any rate), e.g. made with `espeak-ng -w my.wav \"4 0 7\"`", false, transcribe);
}  // namespace

const Task& speech_task() {
  static const Task task{
      "speech",
      "connected spoken digits (TIDIGITS words, synthesised; test voices unseen): a bidirectional LSTM over "
      "log-mel frames, CTC",
      /*data=*/"",
      /*fetch=*/"speech",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 9,000 utterances of 1-7 digits, 0.5-4 s each
        if (unset("hidden")) config.hidden = 128;
        if (unset("layers")) config.layers = 2;
        if (unset("dropout")) config.dropout = 0.2;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("lr")) config.lr = 2e-3;
        if (unset("epochs")) config.epochs = 20;
        if (unset("batch")) config.batch = 32;
        if (unset("beam")) config.beam = 8;
      },
      train_speech,
      eval_speech,
      &transcribe_command};
  return task;
}

}  // namespace loom::tools
