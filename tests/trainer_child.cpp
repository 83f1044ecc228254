// A small training run for the trainer tests, in its own process so that a test can kill it:
//   loom_trainer_child RUN_DIR EPOCHS
// resumes from RUN_DIR when a checkpoint is there, and writes RUN_DIR/final.safetensors.
#include <loom/layers/recurrent.h>
#include <loom/loom.h>
#include <loom/optim/optimizers.h>
#include <loom/optim/scheduler.h>
#include <loom/optim/trainer.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>

namespace {

// LSTM -> dropout -> linear read-out of the last state: predicts the sum of feature 0.
struct Regressor : loom::Module {
  std::shared_ptr<loom::LSTM> lstm;
  loom::Tensor w, b;
  Regressor() {
    lstm = register_module("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(4, 32)));
    w = register_parameter("w", loom::randn({1, 32}) * 0.1);
    b = register_parameter("b", loom::zeros({1}));
  }
  loom::Tensor forward(const loom::Tensor& x) {  // (B, T, 4) -> (B, 1)
    auto h = lstm->forward(x).h_n.select(0, 0);  // (B, 32)
    return loom::linear(loom::dropout(h, 0.2, is_training()), w, b);
  }
};

// Fixed data, reshuffled every epoch with the trainer's generator.
struct Shuffled : loom::optim::BatchSource {
  loom::Tensor x, y;  // (N, T, 4), (N, 1)
  std::vector<std::int64_t> order;
  std::int64_t batch_size = 32;
  Shuffled(loom::Tensor inputs, loom::Tensor targets) : x(inputs), y(targets), order(inputs.size(0)) {
    std::iota(order.begin(), order.end(), 0);
  }
  std::int64_t num_batches() const override { return x.size(0) / batch_size; }
  void start_epoch(std::int64_t, loom::Generator& generator) override {
    std::iota(order.begin(), order.end(), 0);  // the order may depend on the generator only
    for (std::size_t i = order.size() - 1; i > 0; --i)
      std::swap(order[i], order[generator.next_u64() % (i + 1)]);
  }
  loom::optim::Batch batch(std::int64_t index) override {
    auto ids = loom::from_vector(std::vector<std::int64_t>(order.begin() + index * batch_size,
                                                           order.begin() + (index + 1) * batch_size));
    return {loom::index_select(x, 0, ids), loom::index_select(y, 0, ids)};
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s RUN_DIR EPOCHS\n", argv[0]);
    return 2;
  }
  const std::string run_dir = argv[1];
  loom::Generator data_generator(42);
  auto x = loom::randn({512, 12, 4}, loom::Dtype::Float32, &data_generator);
  auto y = loom::sum(x.select(2, 0), {1}, true);
  Shuffled train(x.narrow(0, 0, 448), y.narrow(0, 0, 448));
  const auto x_val = x.narrow(0, 448, 64), y_val = y.narrow(0, 448, 64);

  loom::manual_seed(7);
  Regressor model;
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.01));
  loom::optim::StepLR schedule(adam, 2, 0.5);
  loom::optim::Trainer trainer(model, adam, loom::optim::TrainerOptions()
                                                .epochs(std::atoi(argv[2]))
                                                .run_dir(run_dir)
                                                .clip_grad_norm(1.0)
                                                .seed(3)
                                                .progress(false));
  trainer.set_scheduler(&schedule);
  trainer.resume();
  trainer.fit(
      train, [&](const loom::optim::Batch& b) { return loom::mse_loss(model.forward(b[0]), b[1]); },
      [&] { return std::map<std::string, double>{{"val_loss", loom::mse_loss(model.forward(x_val), y_val).item()}}; });
  loom::save(model, run_dir + "/final.safetensors");
  return 0;
}
