// A training loop with loom::optim::Trainer: a GRU classifier learns whether a digit sequence
// sums to more than 22, with validation, checkpoints in runs/train_loop/ and resume. Run it, kill
// it (Ctrl-C) and run it again: it continues where its last checkpoint left off.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>
#include <loom/loom.h>
#include <loom/optim/optimizers.h>
#include <loom/optim/trainer.h>

#include <memory>

struct Classifier : loom::Module {  // embedding -> GRU -> last state -> linear: many-to-one
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 16));
  std::shared_ptr<loom::GRU> gru = register_module("gru", std::make_shared<loom::GRU>(loom::GRUOptions(16, 32)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 2));
  loom::Tensor forward(const loom::Tensor& digits) {  // (B, T) int64 -> (B, 2) logits
    return out->forward(gru->forward(embed->forward(digits)).h_n.select(0, 0));
  }
};

struct Digits : loom::optim::BatchSource {  // 32 fixed batches of (64, 5) digits and labels
  loom::Tensor x = loom::randint(0, 10, {32 * 64, 5});
  loom::Tensor y = loom::gt(loom::sum(x.to(loom::Dtype::Float32), {1}), loom::scalar_tensor(22)).to(loom::Dtype::Int64);
  std::int64_t num_batches() const override { return 32; }
  loom::optim::Batch batch(std::int64_t i) override { return {x.narrow(0, i * 64, 64), y.narrow(0, i * 64, 64)}; }
};

double accuracy(Classifier& model, const Digits& data) {
  auto predicted = loom::argmax(model.forward(data.x), 1).to(loom::Dtype::Float32);
  return loom::mean(loom::eq(predicted, data.y.to(loom::Dtype::Float32))).item();
}

int main() {
  loom::manual_seed(0);
  Digits train, validation;
  Classifier model;
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(3e-3));
  loom::optim::Trainer trainer(model, adam, loom::optim::TrainerOptions().epochs(15).run_dir("runs/train_loop")
                                                .monitor("val_accuracy").monitor_mode("max").clip_grad_norm(1.0));
  trainer.resume();
  auto result = trainer.fit(
      train, [&](const loom::optim::Batch& b) { return loom::cross_entropy(model.forward(b[0]), b[1]); },
      [&] { return std::map<std::string, double>{{"val_accuracy", accuracy(model, validation)}}; });
  std::printf("best validation accuracy %.3f at epoch %ld\n", result.best_value, static_cast<long>(result.best_epoch));
  return result.best_value > 0.9 ? 0 : 1;
}
