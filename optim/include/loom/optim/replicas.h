#pragma once
/// Data-parallel training: the other copies of the model, each training on its own share of
/// every batch. The Trainer runs within a Replicas group when given one (set_replicas); Loom's
/// implementation over MPI is loom::distributed::DataParallel (<loom/distributed.h>, built when
/// CMake finds MPI). This interface keeps the trainer free of MPI.
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom::optim {

class Replicas {
 public:
  virtual ~Replicas() = default;
  /// This replica's index in [0, size()); replica 0 prints, writes files and is broadcast from.
  virtual int rank() const = 0;
  virtual int size() const = 0;

  /// Every replica ends with replica 0's bytes.
  virtual void broadcast(std::string& bytes) = 0;
  /// Every replica ends with replica 0's values of these tensors (same shapes everywhere).
  virtual void broadcast(const std::vector<Tensor>& tensors) = 0;
  /// Element-wise sums over the replicas, returned to every replica.
  virtual std::vector<double> sum(const std::vector<double>& values) = 0;

  /// Before this replica's backward pass: `share` is the fraction of the global batch's rows it
  /// holds (the shares add up to 1 over the replicas).
  virtual void begin_step(double share) = 0;
  /// After the backward pass: waits until every parameter's gradient holds the same
  /// sum over replicas of share * local gradient, which is the whole batch's gradient when the
  /// loss is a mean over rows.
  virtual void finish_step() = 0;
};

}  // namespace loom::optim
