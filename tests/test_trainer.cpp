// The training loop: falling loss, logs and checkpoints, early stopping, NaN detection, a run
// killed with SIGKILL then resumed ending bit for bit where an uninterrupted run ends, and the
// progress display on a terminal and in a log.
#include <loom/optim/optimizers.h>
#include <loom/optim/trainer.h>

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "detail/progress.h"
#include "test_util.h"

using loom_test::TempDir;

using loom::Tensor;
namespace optim = loom::optim;

extern char** environ;

namespace {

std::size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

pid_t spawn_child(const std::string& run_dir, int epochs) {
  const std::string epochs_text = std::to_string(epochs);
  char* argv[] = {const_cast<char*>(LOOM_TRAINER_CHILD), const_cast<char*>(run_dir.c_str()),
                  const_cast<char*>(epochs_text.c_str()), nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, LOOM_TRAINER_CHILD, nullptr, nullptr, argv, environ) == 0);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// A one-parameter regression: y = 3x, batches of 8.
struct Line : loom::optim::BatchSource {
  std::int64_t num_batches() const override { return 4; }
  optim::Batch batch(std::int64_t index) override {
    auto x = loom::arange(static_cast<double>(index * 8), static_cast<double>(index * 8 + 8)).reshape({8, 1}) / 32.0;
    return {x, x * 3.0};
  }
};

// One weight fitted to Line by SGD, with a run folder.
struct LineRun {
  struct Model : loom::Module {
    Tensor w;
    Model() { w = register_parameter("w", loom::zeros({1, 1})); }
  } model;
  optim::SGD sgd{model.named_parameters(), optim::SGDOptions(0.5)};
  optim::Trainer trainer;
  Line data;
  LineRun(const std::string& run_dir, int epochs, bool progress = false)
      : trainer(model, sgd, optim::TrainerOptions().epochs(epochs).run_dir(run_dir).monitor("train_loss").progress(progress)) {}
  optim::TrainResult fit(const optim::Trainer::Validation& validate = {}) {
    return trainer.fit(
        data, [&](const optim::Batch& b) { return loom::mse_loss(loom::matmul(b[0], model.w), b[1]); }, validate);
  }
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What `show` writes to a temporary file.
std::string written(const std::function<void(std::FILE*)>& show) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::tmpfile(), std::fclose);
  REQUIRE(file != nullptr);
  show(file.get());
  std::rewind(file.get());
  std::string text;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) text.append(buffer, n);
  return text;
}

// What `run` writes to stderr (file descriptor 2) while it runs with `stderr_fd` in its place.
void with_stderr(int stderr_fd, const std::function<void()>& run) {
  std::fflush(stderr);
  const int saved = ::dup(2);
  REQUIRE(saved >= 0);
  ::dup2(stderr_fd, 2);
  run();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
}

std::vector<std::int64_t> logged_epochs(const std::string& run_dir) {
  std::vector<std::int64_t> epochs;
  for (const auto& m : optim::read_metrics_log(run_dir + "/metrics.jsonl")) epochs.push_back(m.epoch);
  return epochs;
}

}  // namespace

TEST_CASE("the metrics log holds exactly the run's epochs: emptied for a fresh run, cut back on resume") {
  TempDir dir;
  // Lines of an earlier run killed before its first checkpoint.
  std::ofstream(dir.path + "/metrics.jsonl") << "{\"epoch\":1,\"values\":{}}\n{\"epoch\":2,\"values\":{}}\n";
  LineRun(dir.path, 3).fit();
  CHECK(logged_epochs(dir.path) == std::vector<std::int64_t>{1, 2, 3});
  // A line written after the last checkpoint (the process killed in between) goes on resume.
  std::ofstream(dir.path + "/metrics.jsonl", std::ios::app) << "{\"epoch\":4,\"values\":{}}\n";
  LineRun resumed(dir.path, 5);
  REQUIRE(resumed.trainer.resume());
  resumed.fit();
  CHECK(logged_epochs(dir.path) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  std::ofstream(dir.path + "/metrics.jsonl", std::ios::app) << "{\"epoch\": oops\n";
  CHECK(loom_test::message_of<loom::IOError>([&] { optim::read_metrics_log(dir.path + "/metrics.jsonl"); })
            .find("metrics.jsonl:6: expected {\"epoch\": N, \"values\": {...}}, got a malformed line") != std::string::npos);
  // An epoch too large for an integer (found by the metrics_log fuzzer), or not positive, is refused by name.
  for (const char* epoch : {"3.6e41", "0", "-2", "1.5"}) {
    std::ofstream(dir.path + "/metrics.jsonl") << "{\"epoch\":" << epoch << ",\"values\":{}}\n";
    CHECK(loom_test::message_of<loom::IOError>([&] { optim::read_metrics_log(dir.path + "/metrics.jsonl"); })
              .find(std::string("metrics.jsonl:1: expected a positive integer epoch, got ")) != std::string::npos);
  }
}

TEST_CASE("the plateau steps on the metric it is given, not the monitored one, and names a missing one") {
  LineRun run("", 4);  // monitors train_loss, which falls every epoch
  optim::ReduceLROnPlateau plateau(run.sgd, optim::PlateauOptions().mode("min").factor(0.5).patience(1));
  run.trainer.set_plateau(&plateau, "noise");
  const auto validate = [] { return std::map<std::string, double>{{"noise", 1.0}}; };  // never improves
  const auto result = run.fit(validate);
  // Epochs 2 and 3 are the plateau's bad ones: patience 1 halves the rate after epoch 3 and
  // starts counting again (epoch 4 is one bad epoch).
  std::vector<double> rates;
  for (const auto& m : result.history) rates.push_back(m.values.at("lr"));
  CHECK(rates == std::vector<double>{0.5, 0.5, 0.5, 0.25});
  CHECK(run.sgd.param_groups()[0].lr == 0.25);
  CHECK(result.best_epoch == 4);  // the monitored metric still picks the epoch

  LineRun missing("", 1);
  missing.trainer.set_plateau(&plateau, "val_loss");
  CHECK(loom_test::message_of<loom::ValueError>([&] { missing.fit(validate); }) ==
        "Trainer: the plateau's metric 'val_loss' was not computed (have: train_loss, lr and the validation metrics)");
}

TEST_CASE("a NaN or infinite metric survives the metrics log and the checkpoint, so a diverged run resumes") {
  TempDir dir;
  const auto validate = [] {
    return std::map<std::string, double>{{"val_nan", std::nan("")}, {"val_loss", INFINITY}, {"val_low", -INFINITY}};
  };
  const auto check_values = [](const std::map<std::string, double>& values) {
    CHECK(std::isnan(values.at("val_nan")));
    CHECK(values.at("val_loss") == INFINITY);
    CHECK(values.at("val_low") == -INFINITY);
  };
  // mode max: the best becomes +inf, which a plateau not restored (best -inf) would not show
  const auto plateau_options = optim::PlateauOptions().mode("max").patience(0);
  {
    LineRun run(dir.path, 2);
    optim::ReduceLROnPlateau plateau(run.sgd, plateau_options);
    run.trainer.set_plateau(&plateau, "val_loss");
    run.fit(validate);
    REQUIRE(plateau.best() == INFINITY);
  }
  const auto logged = optim::read_metrics_log(dir.path + "/metrics.jsonl");
  REQUIRE(logged.size() == 2);
  check_values(logged[1].values);
  LineRun resumed(dir.path, 3);
  optim::ReduceLROnPlateau plateau(resumed.sgd, plateau_options);
  REQUIRE(plateau.best() == -INFINITY);
  resumed.trainer.set_plateau(&plateau, "val_loss");
  REQUIRE(resumed.trainer.resume());
  CHECK(plateau.best() == INFINITY);
  const auto result = resumed.fit(validate);
  REQUIRE(result.history.size() == 3);
  check_values(result.history[0].values);  // restored from the checkpoint
  // Anything else where a number belongs is refused by name.
  std::ofstream(dir.path + "/metrics.jsonl") << "{\"epoch\":1,\"values\":{\"val_loss\":null}}\n";
  CHECK(loom_test::message_of<loom::IOError>([&] { optim::read_metrics_log(dir.path + "/metrics.jsonl"); })
            .find("metrics.jsonl:1: expected \"values\" to map names to numbers, got {\"val_loss\":null}") !=
        std::string::npos);
}

TEST_CASE("resume refuses a trainer state out of range, or a plateau on another metric, by name") {
  TempDir dir;
  {
    LineRun run(dir.path, 2);
    optim::ReduceLROnPlateau plateau(run.sgd, optim::PlateauOptions().patience(5));
    run.trainer.set_plateau(&plateau, "val_loss");
    run.fit([] { return std::map<std::string, double>{{"val_loss", 1.0}}; });
  }
  const std::string path = dir.path + "/last.safetensors";
  const auto good = loom::load_safetensors(path);
  // The checkpoint again with one field of the trainer state replaced.
  const auto resume_with = [&](const std::string& field, const std::string& value) {
    auto state = good.metadata.at("loom_trainer_state");
    const auto start = state.find("\"" + field + "\":");
    REQUIRE(start != std::string::npos);
    const auto value_start = start + field.size() + 3;
    const auto value_end = state.find_first_of(",}", state[value_start] == '[' ? state.find(']', value_start) : value_start);
    state.replace(value_start, value_end - value_start, value);
    loom::save_safetensors(good.tensors, path, {{"loom_trainer_state", state}});
    LineRun resumed(dir.path, 3);
    optim::ReduceLROnPlateau plateau(resumed.sgd, optim::PlateauOptions().patience(5));
    resumed.trainer.set_plateau(&plateau, "val_loss");
    return loom_test::message_of<loom::IOError>([&] { resumed.trainer.resume(); });
  };
  CHECK(resume_with("epoch", "9223372036854775807").find("expected an integer epoch in [0, 1099511627776], got "
                                                         "9223372036854775807") != std::string::npos);
  CHECK(resume_with("epoch", "18446744073709551615").find("expected an integer epoch in") != std::string::npos);
  CHECK(resume_with("epoch", "1e300").find("expected an integer epoch in") != std::string::npos);
  CHECK(resume_with("best_epoch", "3").find("expected an integer best_epoch in [0, 2], got 3") != std::string::npos);
  CHECK(resume_with("epochs_without_improvement", "-1").find("epochs_without_improvement in [0, 2], got -1") !=
        std::string::npos);
  CHECK(resume_with("plateau", "{\"a\":1}").find("the plateau's state {\"a\":1}: expected a list of numbers") !=
        std::string::npos);
  CHECK(resume_with("plateau", "[1.0,0.5,0.0]").find("the plateau's state [1.0,0.5,0.0]: ReduceLROnPlateau: expected "
                                                     "the epoch counts to be whole numbers") != std::string::npos);
  CHECK(resume_with("plateau_metric", "\"val_bleu\"").find("was trained with a plateau on 'val_bleu', this run's "
                                                           "plateau steps on 'val_loss'") != std::string::npos);
}

TEST_CASE("a write that fails in the run folder stops fit with an IOError and keeps the last checkpoint") {
  TempDir dir;
  const std::string log = dir.path + "/metrics.jsonl";
  LineRun run(dir.path, 4);
  int epoch = 0;
  const auto message = loom_test::message_of<loom::IOError>([&] {
    run.fit([&] {
      if (++epoch == 2) {  // something takes the log's place during epoch 2
        std::filesystem::remove(log);
        std::filesystem::create_directory(log);
      }
      return std::map<std::string, double>{};
    });
  });
  CHECK(message == "append: cannot open '" + log + "': Is a directory");
  CHECK(epoch == 2);  // the run stopped there
  const std::string checkpoint = file_bytes(dir.path + "/last.safetensors");
  LineRun resumed(dir.path, 4);
  REQUIRE(resumed.trainer.resume());
  CHECK(loom_test::message_of<loom::IOError>([&] { resumed.fit(); }) ==
        "save: cannot rename onto '" + log + "': Is a directory");  // the log still cannot be written
  CHECK(file_bytes(dir.path + "/last.safetensors") == checkpoint);
  // Epoch 2's checkpoint was complete before its log line failed: a resume trains epochs 3 and 4.
  std::filesystem::remove(log);
  REQUIRE(resumed.trainer.resume());
  int epochs_trained = 0;
  resumed.fit([&] { return std::map<std::string, double>{{"epochs_trained", ++epochs_trained}}; });
  CHECK(epochs_trained == 2);
  CHECK(logged_epochs(dir.path) == std::vector<std::int64_t>{1, 2, 3, 4});
}

TEST_CASE("resume checks the checkpoint's size and values before it trusts them") {
  TempDir dir;
  const std::string path = dir.path + "/last.safetensors";
  {
    std::ofstream sparse(path);
  }
  std::filesystem::resize_file(path, 6'000'000'000);  // sparse: nothing is read to refuse it
  LineRun run(dir.path, 1);
  CHECK(loom_test::message_of<loom::IOError>([&] { run.trainer.resume(); })
            .find("Trainer::resume: '" + path + "' is too large: expected at most ") != std::string::npos);
  std::filesystem::remove(path);
  std::filesystem::create_symlink("/dev/zero", path);  // no size, endless
  CHECK(loom_test::message_of<loom::IOError>([&] { run.trainer.resume(); }) ==
        "Trainer::resume: expected '" + path + "' to be a regular file, it is not");
  std::filesystem::remove(path);

  LineRun(dir.path, 1).fit();
  auto file = loom::load_safetensors(path);
  file.tensors.at("model.w") = loom::full({1, 1}, NAN);
  loom::save_safetensors(file.tensors, path, file.metadata);
  CHECK(loom_test::message_of<loom::ValueError>([&] { LineRun(dir.path, 2).trainer.resume(); })
            .find("tensor 'model.w' holds NaN") != std::string::npos);
}

TEST_CASE("fit lowers the loss, logs every epoch and keeps best and last checkpoints") {
  TempDir dir;
  Tensor w = loom::zeros({1, 1}).requires_grad_();
  struct Model : loom::Module {
    Tensor w;
    explicit Model(Tensor weight) { w = register_parameter("w", weight); }
  } model(w);
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.5));
  optim::Trainer trainer(model, sgd, optim::TrainerOptions().epochs(8).run_dir(dir.path).monitor("train_loss").progress(false));
  Line data;
  auto result = trainer.fit(data, [&](const optim::Batch& b) { return loom::mse_loss(loom::matmul(b[0], model.w), b[1]); });
  REQUIRE(result.history.size() == 8);
  CHECK(result.history.back().values.at("train_loss") < result.history.front().values.at("train_loss") * 0.1);
  CHECK(result.best_epoch == 8);
  CHECK(count_lines(dir.path + "/metrics.jsonl") == 8);
  CHECK(std::filesystem::exists(dir.path + "/best.safetensors"));
  CHECK(std::filesystem::exists(dir.path + "/last.safetensors"));
}

TEST_CASE("time_chunks cuts the time axis and passes other tensors whole") {
  const Tensor x = loom::randn({2, 10, 3}), y = loom::randn({2, 10}), lengths = loom::from_vector(std::vector<std::int64_t>{10, 7});
  const auto chunks = optim::time_chunks({x, y, lengths}, 4, 1);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0][0].shape() == loom::Shape{2, 4, 3});
  CHECK(chunks[2][0].shape() == loom::Shape{2, 2, 3});
  CHECK(chunks[2][1].shape() == loom::Shape{2, 2});
  CHECK(chunks[1][2].shape() == loom::Shape{2});
  CHECK(chunks[1][0].to_vector<float>() == x.narrow(1, 4, 4).to_vector<float>());
  CHECK(optim::time_chunks({x, y}, 0, 1).size() == 1);
  CHECK(optim::time_chunks({x}, 10, 1).size() == 1);
  CHECK_THROWS_AS(optim::time_chunks({x}, -1, 1), loom::ValueError);
  CHECK_THROWS_AS(optim::time_chunks({x}, 4, 3), loom::ValueError);
}

TEST_CASE("tbptt_steps: one optimizer step per chunk, chunk indices for a carried state, falling loss") {
  // A running sum through time, h_t = w h_{t-1} + x_t with target 0.5 * h_t, learnt by a readout
  // v: the state is carried across chunks detached, as a truncated-BPTT model does.
  struct Model : loom::Module {
    Tensor w, v;
    Model() {
      w = register_parameter("w", loom::full({1}, 0.5));
      v = register_parameter("v", loom::zeros({1}));
    }
  } model;
  struct Sequences : optim::BatchSource {
    std::int64_t num_batches() const override { return 2; }
    optim::Batch batch(std::int64_t index) override {
      loom::Generator generator(index);
      return {loom::randn({4, 10}, loom::Dtype::Float32, &generator)};  // (B, T)
    }
  } data;
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.05));
  optim::Trainer trainer(model, sgd, optim::TrainerOptions().epochs(6).monitor("train_loss").progress(false).tbptt_steps(4));
  std::vector<std::pair<std::int64_t, std::int64_t>> seen;  // (index, count) per loss call
  Tensor state;                                             // (B) h at the end of the last chunk
  auto result = trainer.fit(data, [&](const optim::Batch& b) {
    seen.emplace_back(trainer.chunk().index, trainer.chunk().count);
    CHECK(b[0].size(1) <= 4);
    if (trainer.chunk().index == 0) state = loom::zeros({4});
    Tensor h = state, loss = loom::zeros({});
    for (std::int64_t t = 0; t < b[0].size(1); ++t) {
      h = model.w.detach() * h + b[0].select(1, t);
      loss = loss + loom::mse_loss(model.v * h, h * 0.5);
    }
    state = h.detach();
    return loss;
  });
  REQUIRE(seen.size() == 6 * 2 * 3);  // epochs x batches x chunks (T = 10 in chunks of 4)
  CHECK(seen[0] == std::pair<std::int64_t, std::int64_t>{0, 3});
  CHECK(seen[2] == std::pair<std::int64_t, std::int64_t>{2, 3});
  CHECK(seen[3] == std::pair<std::int64_t, std::int64_t>{0, 3});
  CHECK(trainer.chunk().count == 1);  // reset after fit
  CHECK(result.history.back().values.at("train_loss") < result.history.front().values.at("train_loss") * 0.2);
}

TEST_CASE("early stopping and NaN detection") {
  struct Model : loom::Module {
    Tensor w;
    Model() { w = register_parameter("w", loom::ones({1})); }
  } model;
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.1));
  optim::Trainer patient(model, sgd, optim::TrainerOptions().epochs(50).early_stopping_patience(3).progress(false));
  Line data;
  int calls = 0;
  auto result = patient.fit(
      data, [&](const optim::Batch&) { return loom::sum(model.w * 0.0); },
      [&] { return std::map<std::string, double>{{"val_loss", 1.0 + ++calls}}; });  // only gets worse
  CHECK(result.stopped_early);
  CHECK(result.history.size() == 4);  // the first epoch sets the best, three more without improvement

  optim::Trainer trainer(model, sgd, optim::TrainerOptions().epochs(2).monitor("train_loss").progress(false));
  const auto message = loom_test::message_of<loom::ValueError>(
      [&] { trainer.fit(data, [&](const optim::Batch&) { return loom::log(model.w * 0.0 - 1.0).sum(); }); });
  CHECK(message.find("step 1 (epoch 1, batch 1): the loss became NaN;") != std::string::npos);  // d/dw is 0 here
  CHECK_THROWS_AS(optim::Trainer(model, sgd, optim::TrainerOptions().monitor_mode("up")), loom::ValueError);
  CHECK_THROWS_AS(optim::Trainer(model, sgd, optim::TrainerOptions().on_non_finite("ignore")), loom::ValueError);
}

TEST_CASE("time_limit_seconds stops after the epoch in which the budget runs out, never inside one") {
  struct Model : loom::Module {
    Tensor w;
    Model() { w = register_parameter("w", loom::ones({1})); }
  } model;
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.01));
  Line data;  // 4 batches of 20 ms: an epoch takes at least 80 ms
  std::int64_t batches = 0;
  auto slow_loss = [&](const optim::Batch& b) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++batches;
    return loom::mean((b[0] * model.w - b[1]) * (b[0] * model.w - b[1]));
  };
  optim::Trainer limited(model, sgd, optim::TrainerOptions().epochs(20).monitor("train_loss").time_limit_seconds(0.3)
                                         .progress(false));
  const auto result = limited.fit(data, slow_loss);
  CHECK(result.stopped_by_time_limit);
  CHECK(result.history.size() <= 4);  // 4 epochs take at least 320 ms (fewer on a loaded machine)
  CHECK(batches == 4 * static_cast<std::int64_t>(result.history.size()));  // whole epochs only

  batches = 0;
  optim::Trainer unlimited(model, sgd, optim::TrainerOptions().epochs(3).monitor("train_loss").progress(false));
  const auto full = unlimited.fit(data, slow_loss);
  CHECK_FALSE(full.stopped_by_time_limit);
  CHECK(full.history.size() == 3);
  CHECK(batches == 12);
  CHECK_THROWS_AS(optim::Trainer(model, sgd, optim::TrainerOptions().time_limit_seconds(-1.0)), loom::ValueError);
}

// Two parameters; the loss stays finite, but batch 2 of every epoch adds sqrt(b - 1) at b = 1:
// a value of 0 with an infinite gradient for `b` alone, so the guard must read the gradients.
struct TwoParameters : loom::Module {
  Tensor a, b;
  TwoParameters() {
    a = register_parameter("a", loom::ones({1}));
    b = register_parameter("b", loom::ones({1}));
  }
  Tensor loss(std::int64_t batch) const {
    return loom::sum(a * a) + (batch == 1 ? loom::sum(loom::sqrt(b - 1.0)) : loom::sum(b * 0.0));
  }
};

struct Counted : loom::optim::BatchSource {
  std::int64_t num_batches() const override { return 3; }
  optim::Batch batch(std::int64_t index) override { return {loom::from_vector(std::vector<std::int64_t>{index})}; }
};

TEST_CASE("a non-finite gradient stops training with the step and the parameter's name") {
  TwoParameters model;
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.1));
  optim::Trainer trainer(model, sgd, optim::TrainerOptions().epochs(3).monitor("train_loss").progress(false));
  Counted data;
  const auto message = loom_test::message_of<loom::ValueError>([&] {
    trainer.fit(data, [&](const optim::Batch& batch) { return model.loss(batch[0].to_vector<std::int64_t>()[0]); });
  });
  CHECK(message.find("step 2 (epoch 1, batch 2)") != std::string::npos);
  CHECK(message.find("the first non-finite gradient is b's") != std::string::npos);
  CHECK(message.find("loss became") == std::string::npos);  // the loss itself was finite
  CHECK(model.b.to_vector<float>()[0] == 1.0f);             // and no step used the bad gradient
}

TEST_CASE("on_non_finite(\"skip\") leaves the parameters untouched and counts the skipped steps") {
  TempDir dir;
  TwoParameters model;
  optim::SGD sgd(model.named_parameters(), optim::SGDOptions(0.1));
  optim::Trainer trainer(model, sgd, optim::TrainerOptions().epochs(3).monitor("train_loss").run_dir(dir.path)
                                         .on_non_finite("skip").progress(false));
  Counted data;
  const auto result = trainer.fit(
      data, [&](const optim::Batch& batch) { return model.loss(batch[0].to_vector<std::int64_t>()[0]); });
  CHECK(result.skipped_steps == 3);  // batch 2 of each of 3 epochs
  REQUIRE(result.history.size() == 3);
  for (const auto& epoch : result.history) CHECK(epoch.values.at("skipped_steps") == 1.0);
  CHECK(std::isfinite(model.b.to_vector<float>()[0]));
  CHECK(model.a.to_vector<float>()[0] == doctest::Approx(std::pow(0.8, 6)));  // 2 good steps a epoch: a -= 0.1 * 2a
  std::ifstream log(dir.path + "/metrics.jsonl");
  std::string first_line;
  std::getline(log, first_line);
  CHECK(first_line.find("\"skipped_steps\":1.0") != std::string::npos);
}

TEST_CASE("a run killed with SIGKILL and resumed ends bit for bit like an uninterrupted run") {
  TempDir uninterrupted, interrupted;
  const int epochs = 6;
  REQUIRE(wait_for(spawn_child(uninterrupted.path, epochs)) == 0);

  const pid_t child = spawn_child(interrupted.path, epochs);
  const std::string log = interrupted.path + "/metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_lines(log) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(child, SIGKILL);
  const int status = wait_for(child);
  REQUIRE(WIFSIGNALED(status));  // it really was killed, mid-run
  CHECK(count_lines(log) < static_cast<std::size_t>(epochs));
  REQUIRE(wait_for(spawn_child(interrupted.path, epochs)) == 0);  // resumes from last.safetensors

  auto a = loom::load_safetensors(uninterrupted.path + "/final.safetensors").tensors;
  auto b = loom::load_safetensors(interrupted.path + "/final.safetensors").tensors;
  REQUIRE(a.size() == b.size());
  for (const auto& [name, tensor] : a) {
    CAPTURE(name);
    CHECK(loom_test::values(tensor) == loom_test::values(b.at(name)));  // bit for bit
  }
  CHECK(count_lines(log) == static_cast<std::size_t>(epochs));
}

TEST_CASE("progress on a terminal: one line redrawn with epoch, step, examples/s, running loss and ETA") {
  using loom::detail::Progress;
  const auto start = Progress::Clock::time_point{} + std::chrono::hours(1);
  const std::string text = written([&](std::FILE* out) {
    Progress progress(out, true, 2, 5, 40, start);
    progress.update(10, 320, 0.5, start + std::chrono::seconds(1));  // 320 examples in 1 s; 30 steps left at 10 a second
    progress.update(11, 352, 0.49, start + std::chrono::milliseconds(1050));  // 50 ms after the last: not drawn
    progress.update(40, 1280, 0.25, start + std::chrono::milliseconds(1100));  // the last step always is
    progress.finish("epoch 2/5  train_loss 0.25");
  });
  CHECK(text == "\repoch 2/5 [=====               ] step 10/40  320 examples/s  loss 0.5000  ETA 3s\033[K"
                "\repoch 2/5 [====================] step 40/40  1164 examples/s  loss 0.2500  ETA 0s\033[K"
                "\r\033[Kepoch 2/5  train_loss 0.25\n");
}

TEST_CASE("progress elsewhere: a plain line every 20 s, then the epoch's summary; nothing when off") {
  using loom::detail::Progress;
  const auto start = Progress::Clock::time_point{} + std::chrono::hours(1);
  const std::string text = written([&](std::FILE* out) {
    Progress progress(out, false, 1, 3, 1000, start);
    progress.update(100, 3200, 0.9, start + std::chrono::seconds(5));     // under 20 s: nothing
    progress.update(500, 16000, 0.7, start + std::chrono::seconds(20));   // 800 examples/s; 500 steps left at 25/s
    progress.update(600, 19200, 0.6, start + std::chrono::seconds(30));   // 10 s after the last line: nothing
    progress.update(1000, 32000, 0.5, start + std::chrono::seconds(39));  // the last step too: the summary follows
    progress.finish("epoch 1/3  train_loss 0.5");
  });
  CHECK(text == "epoch 1/3  step 500/1000  800 examples/s  loss 0.7000  ETA 20s\nepoch 1/3  train_loss 0.5\n");
  Progress off(nullptr, true, 1, 1, 1);
  off.update(1, 8, 0.1);
  off.finish("not shown");
  CHECK(loom::detail::short_duration(59.4) == "59s");
  CHECK(loom::detail::short_duration(185) == "3m05s");
  CHECK(loom::detail::short_duration(7620) == "2h07m");
}

TEST_CASE("the trainer draws its bar on a terminal and plain lines in a file, and trains the same bits either way") {
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  LineRun on_terminal("", 2, true);
  with_stderr(slave, [&] { on_terminal.fit(); });
  ::close(slave);
  ::fcntl(master, F_SETFL, O_NONBLOCK);
  std::string terminal;
  char buffer[4096];
  for (ssize_t n; (n = ::read(master, buffer, sizeof buffer)) > 0;) terminal.append(buffer, static_cast<std::size_t>(n));
  ::close(master);
  // Line: 4 batches of 8 rows an epoch.
  CHECK(terminal.find("\repoch 1/2 [====================] step 4/4  ") != std::string::npos);
  CHECK(terminal.find(" examples/s  loss ") != std::string::npos);
  CHECK(terminal.find("\r\033[Kepoch 2/2  lr 0.5  seconds ") != std::string::npos);
  CHECK(terminal.find("(best so far)") != std::string::npos);

  LineRun in_file("", 2, true);
  const std::string log = written([&](std::FILE* file) { with_stderr(::fileno(file), [&] { in_file.fit(); }); });
  CHECK(log.find('\r') == std::string::npos);
  CHECK(log.find("examples/s") == std::string::npos);  // two short epochs: no line before their summaries
  CHECK(std::count(log.begin(), log.end(), '\n') == 2);
  CHECK(log.rfind("epoch 1/2  lr 0.5  seconds ", 0) == 0);
  CHECK(log.find("\nepoch 2/2  lr 0.5  seconds ") != std::string::npos);

  LineRun quiet("", 2, false);
  quiet.fit();
  const float* w = quiet.model.w.data<float>();
  CHECK(std::memcmp(w, on_terminal.model.w.data<float>(), sizeof *w) == 0);
  CHECK(std::memcmp(w, in_file.model.w.data<float>(), sizeof *w) == 0);
}
