// The caption task: Fashion-MNIST scenes -> captions with an ImageCaptioner. Scenes follow
// /work/shared/data-recipes/fashion_scenes.py (data::make_scenes): training scenes come from the
// first 55,000 training images, validation scenes from the last 5,000 (the last twelfth), test scenes from the
// 10,000 test images, each with its own fixed seed. Validation picks the epoch by greedy exact
// match; the test scenes are decoded with beam search (and greedily, for comparison).
#include "caption_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "loom/data.h"
#include "loom/loom.h"
#include "loom/models/image_captioner.h"
#include "loom/optim.h"
#include "loom/io.h"
#include "loom/serialization.h"
#include "report.h"
#include "task_common.h"
#include "task_registry.h"

namespace loom::tools {

namespace {

// Scenes held out: at most this many, and no more than the images they are drawn from (a small
// data set gets a small test).
constexpr std::int64_t kSide = 56, kValidationScenes = 1000, kTestScenes = 2000;
constexpr std::int64_t kBatch = 250;        // images per encoder or decoder call outside training
constexpr std::int64_t kMaxCaption = 30;    // output steps: the longest caption is 23 words
constexpr std::uint64_t kSceneSeed = 1;     // scenes are data: fixed whatever --seed says
const std::vector<std::int64_t> kChannels = {32, 64};  // as the fashion CNN's encoder

struct CaptionData {
  data::Scenes train, validation, test;
};

CaptionData load_scenes(const RunConfig& config, bool with_training) {
  CaptionData out;
  if (with_training) {
    const auto [images, labels] = read_fashion(config, "train");  // (60000, 28, 28), (60000)
    const std::int64_t validation_images = images.size(0) / 12;  // 5,000 of Fashion-MNIST's 60,000
    const std::int64_t train_images = images.size(0) - validation_images;
    out.train = data::make_scenes(images.narrow(0, 0, train_images), labels.narrow(0, 0, train_images),
                                  config.scenes, kSceneSeed);
    out.validation = data::make_scenes(images.narrow(0, train_images, validation_images),
                                       labels.narrow(0, train_images, validation_images),
                                       std::min(kValidationScenes, validation_images), kSceneSeed + 1);
  }
  const auto [test_images, test_labels] = read_fashion(config, "t10k");
  out.test = data::make_scenes(test_images, test_labels, std::min(kTestScenes, test_images.size(0)), kSceneSeed + 2);
  return out;
}

std::unique_ptr<models::ImageCaptioner> make_model(const RunConfig& c, const data::Vocabulary& vocab) {
  auto model = std::make_unique<models::ImageCaptioner>(models::ImageCaptionerOptions(vocab.size())
                                   .channels(kChannels)
                                   .embedding_dim(c.embedding_dim)
                                   .hidden_size(c.hidden)
                                   .attention(c.attention)
                                   .dropout(c.dropout));
  if (c.freeze_encoder) model->freeze_encoder();
  return model;
}

// --encoder must name a `fashion --model cnn` run: checked before any data is read.
void check_encoder_run(const std::string& run_dir) {
  const RunConfig source = load_config(run_dir);
  if (source.task != "fashion" || source.model != "cnn")
    throw ValueError(fmt::format("caption: --encoder needs a `loom train fashion --model cnn` run; {} is a {} run",
                                 run_dir, source.task == "fashion" ? "fashion --model " + source.model : source.task));
}

// Loads the CNNEncoder of that run (its best epoch) into the captioner.
void load_encoder(models::ImageCaptioner& model, const std::string& run_dir) {
  const RunFolderLock reading(run_dir, RunFolderLock::Mode::shared, "caption --encoder");  // not mid-training
  std::map<std::string, Tensor> encoder;
  const std::string prefix = "encoder.";
  for (auto& [name, tensor] : load_safetensors(run_dir + "/best.safetensors").tensors)
    if (name.rfind(prefix, 0) == 0) encoder[name.substr(prefix.size())] = tensor;
  model.encoder().load_state_dict(encoder);
}

std::vector<std::vector<std::int64_t>> encode_captions(const data::Vocabulary& vocab,
                                                       const std::vector<data::Tokens>& captions) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& caption : captions) out.push_back(vocab.encode(caption));
  return out;
}

// What the decoder reads for each scene: the images (N, 56, 56), or with a frozen encoder its
// features, computed here once for the whole run.
Tensor decoder_inputs(models::ImageCaptioner& model, const Tensor& images) {
  if (!model.encoder_frozen()) return images;
  std::vector<Tensor> parts;
  for (std::int64_t start = 0; start < images.size(0); start += kBatch)
    parts.push_back(model.encode(images.narrow(0, start, std::min(kBatch, images.size(0) - start))));
  return concat(parts, 0);  // (N, C, grid, grid)
}

// Decodes every scene (greedy for beam 1), in batches; hypotheses in the scenes' order.
std::vector<models::Hypothesis> decode(models::ImageCaptioner& model, const Tensor& inputs, std::int64_t beam) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<models::Hypothesis> out;
  for (std::int64_t start = 0; start < inputs.size(0); start += kBatch) {
    const Tensor chunk = inputs.narrow(0, start, std::min(kBatch, inputs.size(0) - start));
    auto decoder = model.encoder_frozen() ? model.decoder_from_features(chunk) : model.decoder(chunk);
    const auto options = models::DecodeOptions().beam_size(beam).max_length(kMaxCaption);
    auto hypotheses = beam == 1 ? models::greedy_decode(*decoder, chunk.size(0), options)
                                : models::beam_search(*decoder, chunk.size(0), options);
    out.insert(out.end(), std::make_move_iterator(hypotheses.begin()), std::make_move_iterator(hypotheses.end()));
  }
  model.train(was_training);
  return out;
}

struct CaptionScores {
  std::array<double, 4> bleu{};  // BLEU-1..4
  double exact = 0.0;
  std::vector<data::Tokens> predicted;
};

CaptionScores score(const std::vector<models::Hypothesis>& hypotheses, const data::Vocabulary& vocab,
                    const data::Scenes& scenes) {
  CaptionScores s;
  for (const auto& h : hypotheses) s.predicted.push_back(vocab.decode(h.tokens));
  for (int order = 1; order <= 4; ++order) s.bleu[order - 1] = data::corpus_bleu(s.predicted, scenes.captions, order).score;
  s.exact = data::exact_match(s.predicted, scenes.captions);
  return s;
}

std::vector<std::string> score_row(const std::string& name, const CaptionScores& s) {
  std::vector<std::string> row{name};
  for (double b : s.bleu) row.push_back(fmt::format("{:.4f}", b));
  row.push_back(fmt::format("{:.4f}", s.exact));
  return row;
}

// The test figures into `metrics`, and the report's BLEU table and captioned scenes into `page`.
void evaluate(const RunConfig& config, models::ImageCaptioner& model, const data::Vocabulary& vocab,
              const data::Scenes& test, nlohmann::ordered_json& metrics, report::Report& page) {
  const Tensor inputs = decoder_inputs(model, test.images);
  const auto beam = score(decode(model, inputs, config.beam), vocab, test);
  const auto greedy = score(decode(model, inputs, 1), vocab, test);
  metrics["test_scenes"] = test.captions.size();
  for (int n = 1; n <= 4; ++n) metrics[fmt::format("test_bleu{}", n)] = beam.bleu[n - 1];
  metrics["test_exact_match"] = beam.exact;
  metrics["beam_size"] = config.beam;
  metrics["test_bleu4_greedy"] = greedy.bleu[3];
  metrics["test_exact_match_greedy"] = greedy.exact;

  page.tables.push_back({fmt::format("Test captions ({} scenes from the test images)", test.captions.size()),
                         {"decoding", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "exact match"},
                         {score_row(fmt::format("beam search, beam {}", config.beam), beam), score_row("greedy", greedy)}});
  page.pictures_title = "Captions (mistakes first)";
  const auto pixels = test.images.to_vector<double>();
  std::size_t right = 0;
  for (std::size_t i = 0; i < test.captions.size() && page.pictures.size() < 36; ++i) {
    const bool correct = beam.predicted[i] == test.captions[i];
    if (correct && right >= 12) continue;  // every mistake up to the limit, and some right answers
    right += correct ? 1 : 0;
    report::Picture picture{kSide, kSide, {}, {data::caption_text(beam.predicted[i])}, correct};
    picture.pixels.assign(pixels.begin() + static_cast<std::ptrdiff_t>(i * kSide * kSide),
                          pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * kSide * kSide));
    if (!correct) picture.lines.push_back("reference: " + data::caption_text(test.captions[i]));
    page.pictures.push_back(std::move(picture));
  }
}

}  // namespace

int train_caption(const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  if (config.freeze_encoder && config.encoder.empty())
    throw ValueError("caption: --freeze-encoder needs --encoder RUN_DIR (a trained `fashion --model cnn` run)");
  if (!config.encoder.empty()) check_encoder_run(config.encoder);
  const auto scenes = load_scenes(config, true);
  const auto vocab = data::Vocabulary::build(scenes.train.captions);
  const Job process = job();
  if (process.root()) {  // rank 0 alone writes the run folder
    vocab.save(config.run_dir + "/vocab.txt");
    std::filesystem::create_directories(config.run_dir + "/examples");
    std::string references;  // inputs to try `loom caption` on, with what they show
    for (std::int64_t k = 0; k < std::min<std::int64_t>(4, scenes.test.images.size(0)); ++k) {
      data::write_pgm(fmt::format("{}/examples/scene-{}.pgm", config.run_dir, k), scenes.test.images.select(0, k));
      references += fmt::format("scene-{}.pgm\t{}\n", k, data::caption_text(scenes.test.captions[k]));
    }
    write_file_atomically(config.run_dir + "/examples/references.tsv", references);
  }
  if (process.root()) std::fprintf(stderr, "caption: %zu train, %zu validation, %zu test scenes; %ld words\n", scenes.train.captions.size(),
               scenes.validation.captions.size(), scenes.test.captions.size(), static_cast<long>(vocab.size() - 4));

  manual_seed(config.seed);
  auto owner = make_model(config, vocab);
  auto& model = *owner;
  if (!config.encoder.empty()) load_encoder(model, config.encoder);
  const auto encoding_start = std::chrono::steady_clock::now();
  data::DenseToSequenceBatches train(decoder_inputs(model, scenes.train.images), encode_captions(vocab, scenes.train.captions),
                                     data::TensorBatchOptions().batch_size(config.batch).num_replicas(process.size).rank(process.rank));
  const Tensor validation_inputs = decoder_inputs(model, scenes.validation.images);
  if (model.encoder_frozen())
    std::fprintf(stderr, "caption: frozen encoder features cached in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - encoding_start).count());
  auto optimizer = make_optimizer(config, model);
  optim::Trainer trainer(model, *optimizer, trainer_options(config, "val_exact_match", "max"));
  optim::CosineAnnealingLR schedule(*optimizer, config.epochs, config.lr * 0.02);  // settle in the last epochs
  trainer.set_scheduler(&schedule);
  const auto replicas = join_replicas(trainer, model);
  if (trainer.resume() && process.root()) std::fprintf(stderr, "resuming %s\n", config.run_dir.c_str());
  const std::int64_t words = vocab.size();
  const auto result = trainer.fit(
      train,
      [&](const optim::Batch& b) {  // {images or features, target input, target output, target lengths}
        const Tensor logits = model.encoder_frozen() ? model.forward_features(b[0], b[1], b[3])
                                                     : model.forward(b[0], b[1], b[3]);  // (B, T, V)
        return cross_entropy(logits.reshape({-1, words}), b[2].reshape({-1}));
      },
      [&] {
        const auto s = score(decode(model, validation_inputs, 1), vocab, scenes.validation);
        return std::map<std::string, double>{{"val_exact_match", s.exact}, {"val_bleu4", s.bleu[3]}};
      });
  if (!process.root()) return 0;  // rank 0 evaluates and writes the run's files (every rank validated it all)
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  load_best(config, model);

  nlohmann::ordered_json metrics;
  metrics["task"] = "caption";
  report::Report page;
  evaluate(config, model, vocab, scenes.test, metrics, page);
  metrics["encoder"] = config.encoder.empty() ? "trained end to end"
                                              : fmt::format("from {}{}", config.encoder, config.freeze_encoder ? ", frozen" : "");
  metrics["best_epoch"] = result.best_epoch;
  metrics["best_val_exact_match"] = result.best_value;
  metrics["train_seconds"] = seconds;
  page.title = fmt::format("loom caption: {} (CNN {}-{}, LSTM {}, attention {})", config.run_dir, kChannels[0],
                           kChannels[1], config.hidden, config.attention);
  finish_run(config, metrics, page, result);
  return 0;
}

int eval_caption(const RunConfig& config) {
  const auto vocab = data::Vocabulary::load(config.run_dir + "/vocab.txt");
  auto owner = make_model(config, vocab);
  auto& model = *owner;
  load_best(config, model);
  return reevaluate_run(config, [&](nlohmann::ordered_json& metrics) {
    report::Report unused;
    evaluate(config, model, vocab, load_scenes(config, false).test, metrics, unused);
  });
}

int caption_images(const RunConfig& config, const std::vector<std::string>& paths) {
  if (paths.empty())
    throw ValueError("caption: expected one or more images (binary PGM, 56x56) after the run folder");
  std::vector<Tensor> images;
  for (const auto& path : paths) {
    if (!std::filesystem::is_regular_file(path)) throw IOError(fmt::format("caption: cannot read '{}'", path));
    const Tensor image = data::read_pgm(path);  // (H, W)
    if (image.size(0) != kSide || image.size(1) != kSide)
      throw ValueError(fmt::format("caption: '{}' is {}x{} pixels; expected a {}x{} scene", path, image.size(1),
                                   image.size(0), kSide, kSide));
    images.push_back(image);
  }
  const auto vocab = data::Vocabulary::load(config.run_dir + "/vocab.txt");
  auto owner = make_model(config, vocab);
  auto& model = *owner;
  load_best(config, model);
  const auto hypotheses = decode(model, decoder_inputs(model, stack(images, 0)), config.beam);
  for (std::size_t i = 0; i < paths.size(); ++i)
    std::printf("%s\t%s\n", paths[i].c_str(), data::caption_text(vocab.decode(hypotheses[i].tokens)).c_str());
  return 0;
}

namespace {
const InferenceCommand caption_command = inputs_command(
    "caption", "Caption 56x56 binary PGM scenes with a trained caption run", "images",
    "Binary PGM (P5) images of 56x56 pixels, e.g. RUN_DIR/examples/scene-0.pgm", false, caption_images);
}  // namespace

const Task& caption_task() {
  static const Task task{
      "caption",
      "captions of scenes of 1-3 Fashion-MNIST items on a 2x2 grid: a CNN encoder and an attentional LSTM",
      /*data=*/"",
      /*fetch=*/"fashion",
      /*models=*/{},
      [](RunConfig& config, const IsUnset& unset) {  // 20,000 scenes of 56x56 pixels, captions of 7-23 words
        if (unset("hidden")) config.hidden = 256;
        if (unset("dropout")) config.dropout = 0.1;
        if (unset("weight_decay")) config.weight_decay = 0.0;
        if (unset("epochs")) config.epochs = 4;
        if (unset("batch")) config.batch = 64;
        if (unset("beam")) config.beam = 3;
      },
      train_caption,
      eval_caption,
      &caption_command};
  return task;
}

}  // namespace loom::tools
