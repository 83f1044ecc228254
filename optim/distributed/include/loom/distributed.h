#pragma once
/// Data-parallel training over MPI (Open MPI from Debian): one process per replica, started by
/// `mpirun`, each training one copy of the model on its share of every batch. Built as the
/// `loom::distributed` library when CMake finds MPI; this header does not include mpi.h.
///
///     int main(int argc, char** argv) {
///       loom::distributed::Environment mpi(argc, argv);      // MPI_Init under mpirun
///       Model model;
///       loom::optim::Adam adam(model.named_parameters());
///       loom::optim::Trainer trainer(model, adam, options);
///       loom::distributed::DataParallel group(model);         // gradients averaged over ranks
///       if (loom::distributed::world_size() > 1) trainer.set_replicas(&group);
///       loom::data::SequenceBatches batches(ids, labels, SequenceBatchOptions().batch_size(64)
///           .num_replicas(loom::distributed::world_size()).rank(loom::distributed::rank()));
///       trainer.fit(batches, loss);
///     }
///
/// Started without mpirun, the same program is a world of one and MPI is never initialised.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/module.h"
#include "loom/optim/replicas.h"
#include "loom/options.h"

namespace loom::distributed {

/// Initialises MPI when the process was started by mpirun (or another MPI launcher) and
/// finalises it at scope exit; otherwise does nothing and the world has one process.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owns_mpi_ = false;
};

/// Whether MPI is running in this process.
bool running();
/// This process's rank in the job (0 without MPI).
int rank();
/// Processes in the job (1 without MPI).
int world_size();
/// Prints "loom: rank R of N: MESSAGE" on stderr and ends the whole job with `exit_code`
/// (MPI_Abort, which makes mpirun stop every other rank too; plain exit without MPI).
[[noreturn]] void abort_job(const std::string& message, int exit_code);

struct DataParallelOptions {
  /// Gradients travel in flat buffers of about this many bytes ("buckets"), in reverse order of
  /// registration, which is roughly the order backward finishes them.
  LOOM_ARG(std::int64_t, bucket_bytes, 1 << 20)
  /// Start each bucket's all-reduce (MPI_Iallreduce) from backward as soon as its last gradient is
  /// final, so communication overlaps the rest of backward; off: all buckets start in finish_step.
  LOOM_ARG(bool, overlap, true)
  /// A collective still incomplete after this many seconds ends the job with a message: a peer
  /// died or hangs. 0 waits forever. The environment variable LOOM_DISTRIBUTED_TIMEOUT, when
  /// set, overrides it (for a job started by a script).
  LOOM_ARG(double, timeout_seconds, 300.0)
};

/// Where the communication time went, summed over the steps since the last reset.
struct CommunicationStats {
  std::int64_t steps = 0;
  std::int64_t bytes_per_step = 0;  ///< gradient bytes all-reduced per step
  double pack_seconds = 0.0;        ///< copying gradients into and out of the buckets
  double wait_seconds = 0.0;        ///< finish_step waiting for all-reduces: communication not hidden by backward
};

/// MPI_COMM_WORLD as a optim::Replicas group for the Trainer, and the gradient reducer: hooks on
/// every parameter (set_post_accumulate_grad_hook) pack each final gradient, scaled by this
/// rank's share of the batch, into its bucket; a full bucket starts its all-reduce while backward
/// continues; finish_step waits and writes the sums back into the gradients. Buckets start in one
/// fixed order on every rank, as MPI requires. With 2 ranks every rank holds bit-identical sums
/// (a + b == b + a); beyond that it depends on the MPI library's reduction order.
class DataParallel : public optim::Replicas {
 public:
  /// Needs MPI running (see Environment); the model's parameters are registered now.
  explicit DataParallel(Module& model, DataParallelOptions options = {});
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const override;
  int size() const override;
  void broadcast(std::string& bytes) override;
  void broadcast(const std::vector<Tensor>& tensors) override;
  std::vector<double> sum(const std::vector<double>& values) override;
  void begin_step(double share) override;
  void finish_step() override;

  std::int64_t num_buckets() const;
  const CommunicationStats& stats() const;
  void reset_stats();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace loom::distributed
