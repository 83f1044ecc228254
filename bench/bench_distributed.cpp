// Data-parallel scaling on the char-LM workload (a) of ../shared/anchors: Embedding(96, 64) ->
// LSTM(64, 512) -> Linear(512, 96), cross entropy at every position, Adam, T=64 (`--layers 2`
// stacks a second LSTM, whose gradients are final while the first's backward runs). Each rank trains
// on `--batch` rows per step (synthetic ids, a pool of 4 batches per rank); the gradients are
// averaged over the ranks by loom::distributed::DataParallel. One JSON line (rank 0) per run:
// the median step time, the global throughput, the process CPU time per step (less disturbed
// than wall time by other jobs on a shared machine), and where the communication time went:
//   comm_wait_ms      finish_step waiting for the all-reduces (communication not hidden by backward)
//   comm_alone_ms     the same step's all-reduces with no backward to hide behind (after a barrier)
//   pack_ms           copying gradients into and out of the buckets
//
//   ./build/bench_distributed --threads 2 --batch 32                       # 1 process
//   mpirun -np 2 ./build/bench_distributed --threads 1 --batch 16 --overlap on
#include <loom/distributed.h>
#include <loom/loom.h>
#include <loom/models/char_lm.h>
#include <loom/optim.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

double load_average() {
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

}  // namespace

int main(int argc, char** argv) {
  loom::distributed::Environment mpi(argc, argv);
  std::int64_t batch = 32, hidden = 512, layers = 1, steps = 20, warmup = 3;
  int threads = 1;
  bool overlap = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--batch") batch = std::stoll(value);
    else if (flag == "--hidden") hidden = std::stoll(value);
    else if (flag == "--layers") layers = std::stoll(value);
    else if (flag == "--steps") steps = std::stoll(value);
    else if (flag == "--warmup") warmup = std::stoll(value);
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--overlap") overlap = value == "on";
    else {
      std::fprintf(stderr, "bench_distributed: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  constexpr std::int64_t vocab = 96, embedding = 64, seq_len = 64;
  const int rank = loom::distributed::rank(), ranks = loom::distributed::world_size();
  loom::set_num_threads(threads);
  loom::manual_seed(0);
  loom::models::CharLM model(loom::models::CharLMOptions(vocab).embedding_dim(embedding).hidden_size(hidden).num_layers(layers));
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(1e-3));
  std::unique_ptr<loom::distributed::DataParallel> group;
  if (ranks > 1) {
    group = std::make_unique<loom::distributed::DataParallel>(model, loom::distributed::DataParallelOptions().overlap(overlap));
    group->broadcast(model.parameters());
  }
  loom::Generator data(100 + static_cast<std::uint64_t>(rank));
  std::vector<loom::Tensor> inputs, targets;  // (B, T) each
  for (int i = 0; i < 4; ++i) {
    inputs.push_back(loom::randint(0, vocab, {batch, seq_len}, &data));
    targets.push_back(loom::randint(0, vocab, {batch, seq_len}, &data));
  }
  const double load_start = load_average();
  std::vector<double> step_ms, step_cpu_ms;
  double loss_value = 0;
  for (std::int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup && group) group->reset_stats();
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_ms();
    if (group) group->begin_step(1.0 / ranks);
    adam.zero_grad();
    const auto& x = inputs[step % 4];
    const auto logits = model.forward(x).logits;  // (B, T, V)
    auto loss = loom::cross_entropy(logits.reshape({-1, vocab}), targets[step % 4].reshape({-1}));
    loss.backward();
    if (group) group->finish_step();
    adam.step();
    loss_value = loss.item();
    if (step >= warmup) {
      step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      step_cpu_ms.push_back(cpu_ms() - cpu_start);
    }
  }
  double wait_ms = 0, pack_ms = 0, alone_ms = 0;
  std::int64_t bytes = 0, buckets = 0;
  if (group) {
    const auto& stats = group->stats();
    wait_ms = 1e3 * stats.wait_seconds / static_cast<double>(stats.steps);
    pack_ms = 1e3 * stats.pack_seconds / static_cast<double>(stats.steps);
    bytes = stats.bytes_per_step;
    buckets = group->num_buckets();
    // The same all-reduces with nothing to overlap: every rank arrives together (the sum is a
    // barrier), packs all gradients and waits.
    group->reset_stats();
    for (int i = 0; i < 10; ++i) {
      group->sum({0.0});
      group->begin_step(1.0 / ranks);
      group->finish_step();
    }
    alone_ms = 1e3 * group->stats().wait_seconds / 10.0;
  }
  const double ms = median(step_ms);
  if (rank == 0)
    std::printf("{\"bench\": \"distributed_charlm\", \"ranks\": %d, \"threads\": %d, \"hidden\": %ld, \"layers\": %ld, \"batch_per_rank\": %ld, "
                "\"global_batch\": %ld, \"overlap\": %s, \"ms_step_median\": %.2f, \"ms_step_min\": %.2f, \"cpu_ms_step_median\": %.2f, "
                "\"samples_per_s\": %.1f, \"tokens_per_s\": %.0f, \"comm_wait_ms\": %.3f, \"comm_alone_ms\": %.3f, "
                "\"pack_ms\": %.3f, \"gradient_bytes\": %ld, \"buckets\": %ld, \"loss\": %.4f, \"loadavg1_start\": %.2f, "
                "\"loadavg1_end\": %.2f}\n",
                ranks, threads, static_cast<long>(hidden), static_cast<long>(layers), static_cast<long>(batch), static_cast<long>(batch * ranks),
                overlap && group ? "true" : "false", ms, *std::min_element(step_ms.begin(), step_ms.end()), median(step_cpu_ms),
                1e3 * static_cast<double>(batch * ranks) / ms, 1e3 * static_cast<double>(batch * ranks * seq_len) / ms,
                wait_ms, alone_ms, pack_ms, static_cast<long>(bytes), static_cast<long>(buckets), loss_value, load_start,
                load_average());
  return 0;
}
