// Checks of data-parallel training over MPI, run under mpirun by the ctests of tests/CMakeLists.txt:
//   loom_distributed_check equivalence        (mpirun -np 2) k steps on 2 ranks with half the
//       batch each equal k steps of one process with the whole batch, and the ranks' parameters
//       are identical bit for bit
//   loom_distributed_check train DIR EPOCHS [--throw-on-rank R | --hang-on-rank R] [--fault-epoch E]
//       a Trainer run (sharded batches, validation averaged over ranks, resume from DIR) that
//       writes DIR/final.safetensors; the fault options make one rank throw or hang in epoch E
//   loom_distributed_check compare A.safetensors B.safetensors TOLERANCE
//       the largest relative difference between the tensors of two files, at most TOLERANCE
#include <mpi.h>
#include <unistd.h>

#include <loom/data/batching.h>
#include <loom/distributed.h>
#include <loom/layers.h>
#include <loom/loom.h>
#include <loom/optim.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

namespace {

constexpr std::int64_t kVocab = 11, kSteps = 6;

// Embedding -> LSTM -> linear at every step: a character LM in miniature.
struct TinyLM : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(kVocab, 8));
  std::shared_ptr<loom::LSTM> lstm = register_module("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(8, 16)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(16, kVocab));
  loom::Tensor loss(const loom::Tensor& x, const loom::Tensor& y) {  // x, y (B, T) int64
    const auto logits = out->forward(lstm->forward(embed->forward(x)).output);  // (B, T, V)
    return loom::cross_entropy(logits.reshape({-1, kVocab}), y.reshape({-1}));
  }
};

// The largest |a - b| / max|b| over the tensors of two state dicts.
double max_relative_difference(const std::map<std::string, loom::Tensor>& a, const std::map<std::string, loom::Tensor>& b) {
  double worst = 0;
  for (const auto& [name, tensor] : b) {
    const auto x = a.at(name).to_vector<double>(), y = tensor.to_vector<double>();
    double diff = 0, scale = 1e-30;
    for (std::size_t i = 0; i < y.size(); ++i) diff = std::max(diff, std::abs(x[i] - y[i])), scale = std::max(scale, std::abs(y[i]));
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

// FNV-1a over every parameter's bytes.
std::uint64_t fingerprint(const loom::Module& model) {
  std::uint64_t hash = 1469598103934665603ull;
  for (auto p : model.parameters()) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p.data<float>());
    for (std::size_t i = 0; i < static_cast<std::size_t>(p.numel()) * sizeof(float); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  }
  return hash;
}

int equivalence() {
  const int rank = loom::distributed::rank(), size = loom::distributed::world_size();
  if (size < 2) throw loom::ValueError("equivalence: run under mpirun -np 2 (or more)");
  constexpr std::int64_t batch = 8, steps = 6;
  int failures = 0;
  for (bool overlap : {true, false}) {
    loom::manual_seed(3);
    TinyLM parallel;
    loom::manual_seed(3);
    TinyLM single;  // the same initial values: one process with the whole batch
    // Small buckets, so several all-reduces run while backward continues.
    loom::distributed::DataParallel group(parallel, loom::distributed::DataParallelOptions().bucket_bytes(2048).overlap(overlap));
    group.broadcast(parallel.parameters());
    loom::optim::SGD sgd_parallel(parallel.named_parameters(), loom::optim::SGDOptions(0.5).momentum(0.9));
    loom::optim::SGD sgd_single(single.named_parameters(), loom::optim::SGDOptions(0.5).momentum(0.9));
    loom::Generator data(17);
    const auto [first, last] = loom::data::shard_range(batch, rank, size);
    for (std::int64_t step = 0; step < steps; ++step) {
      const auto x = loom::randint(0, kVocab, {batch, kSteps}, &data);  // (B, T)
      const auto y = loom::randint(0, kVocab, {batch, kSteps}, &data);
      group.begin_step(static_cast<double>(last - first) / batch);
      sgd_parallel.zero_grad();
      parallel.loss(x.narrow(0, first, last - first), y.narrow(0, first, last - first)).backward();
      group.finish_step();
      sgd_parallel.step();
      sgd_single.zero_grad();
      single.loss(x, y).backward();
      sgd_single.step();
    }
    const double difference = max_relative_difference(parallel.state_dict(), single.state_dict());
    std::uint64_t mine = fingerprint(parallel), first_rank = mine;
    MPI_Bcast(&first_rank, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const bool identical = mine == first_rank;
    std::printf("rank %d, overlap %s, %ld buckets: max relative difference to one process %.3g; %s rank 0's parameters\n", rank,
                overlap ? "on" : "off", static_cast<long>(group.num_buckets()), difference,
                identical ? "bit-identical to" : "DIFFERENT from");
    if (group.num_buckets() < 2 || !(difference <= 1e-6) || !identical) ++failures;
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  return total == 0 ? 0 : 1;
}

std::string option(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

int train(const std::string& run_dir, std::int64_t epochs, int throw_on, int hang_on, std::int64_t fault_epoch) {
  const int rank = loom::distributed::rank(), size = loom::distributed::world_size();
  loom::Generator data(5);
  const auto x = loom::randint(0, kVocab, {203, kSteps}, &data);  // (N, T): 8 batches of 24 and one of 11
  const auto y = loom::randint(0, kVocab, {203, kSteps}, &data);
  const auto [first, last] = loom::data::shard_range(40, rank, size);
  const auto val_x = loom::randint(0, kVocab, {40, kSteps}, &data).narrow(0, first, last - first);
  const auto val_y = loom::randint(0, kVocab, {40, kSteps}, &data).narrow(0, first, last - first);
  loom::manual_seed(1);
  TinyLM model;
  loom::optim::SGD sgd(model.named_parameters(), loom::optim::SGDOptions(0.5).momentum(0.9));
  loom::optim::Trainer trainer(model, sgd, loom::optim::TrainerOptions().epochs(epochs).run_dir(run_dir).seed(9)
                                               .clip_grad_norm(5.0).progress(false));
  std::unique_ptr<loom::distributed::DataParallel> group;
  if (size > 1) {
    group = std::make_unique<loom::distributed::DataParallel>(model, loom::distributed::DataParallelOptions().bucket_bytes(2048));
    trainer.set_replicas(group.get());
  }
  std::ofstream(run_dir + "/rank" + std::to_string(rank) + ".pid") << ::getpid() << "\n";
  trainer.resume();
  loom::data::TensorBatches batches(x, y, loom::data::TensorBatchOptions().batch_size(24).num_replicas(size).rank(rank));
  std::int64_t steps = 0;
  trainer.fit(
      batches,
      [&](const loom::optim::Batch& b) {
        if (steps++ == (fault_epoch - 1) * batches.num_batches()) {
          if (rank == throw_on) throw loom::ValueError("an injected failure in the loss");
          if (rank == hang_on) std::this_thread::sleep_for(std::chrono::hours(1));
        }
        return model.loss(b[0], b[1]);
      },
      [&] {
        return std::map<std::string, double>{{"val_loss", model.loss(val_x, val_y).item()},
                                             {loom::optim::validation_examples_key, static_cast<double>(last - first)}};
      });
  if (rank == 0) loom::save(model, run_dir + "/final.safetensors");
  return 0;
}

int compare(const std::string& a, const std::string& b, double tolerance) {
  const double difference = max_relative_difference(loom::load_safetensors(a).tensors, loom::load_safetensors(b).tensors);
  std::printf("max relative difference %.3g (tolerance %g)\n", difference, tolerance);
  return difference <= tolerance ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  loom::distributed::Environment mpi(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "equivalence") return equivalence();
    if (mode == "train" && argc >= 4)
      return train(argv[2], std::stoll(argv[3]), std::stoi(option(argc, argv, "--throw-on-rank", "-1")),
                   std::stoi(option(argc, argv, "--hang-on-rank", "-1")), std::stoll(option(argc, argv, "--fault-epoch", "2")));
    if (mode == "compare" && argc == 5) return compare(argv[2], argv[3], std::stod(argv[4]));
  } catch (const std::exception& e) {
    loom::distributed::abort_job(e.what(), 2);
  }
  std::fprintf(stderr, "usage: %s equivalence | train DIR EPOCHS [options] | compare A B TOLERANCE\n", argv[0]);
  return 2;
}
