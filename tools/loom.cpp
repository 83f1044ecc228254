// The `loom` command-line program. For now it has one job, `loom train sine`: a two-layer
// network built from Loom's ops learns y = sin(3x) + noise, and the held-out error is printed.
// Later jobs (sentiment, fashion, g2p...) join as further tasks of `loom train`.
#include <CLI/CLI.hpp>

#include <loom/loom.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace {

struct SineOptions {
  std::int64_t hidden = 64;
  int epochs = 3000;
  double learning_rate = 0.05;
  std::uint64_t seed = 0;
  int threads = 1;
};

// A multilayer perceptron with one tanh hidden layer, written from ops.
struct Perceptron : loom::Module {
  loom::Tensor w1, b1, w2, b2;
  explicit Perceptron(std::int64_t hidden) {
    w1 = register_parameter("w1", loom::randn({1, hidden}));                          // (1, H)
    b1 = register_parameter("b1", loom::zeros({hidden}));                             // (H)
    w2 = register_parameter("w2", loom::randn({hidden, 1}) / std::sqrt(double(hidden)));  // (H, 1)
    b2 = register_parameter("b2", loom::zeros({1}));                                  // (1)
  }
  loom::Tensor forward(const loom::Tensor& x) {  // (N, 1) -> (N, 1)
    return loom::matmul(loom::tanh(loom::matmul(x, w1) + b1), w2) + b2;
  }
};

int train_sine(const SineOptions& options) {
  loom::manual_seed(options.seed);
  loom::set_num_threads(options.threads);
  // Noisy samples of sin(3x) for training; the clean curve on a finer grid for evaluation.
  auto x_train = loom::rand({256, 1}, -1.0, 1.0);                            // (256, 1)
  auto y_train = loom::sin(x_train * 3.0) + loom::randn({256, 1}) * 0.05;    // (256, 1)
  auto x_test = loom::arange(-1.0, 1.0, 0.005).reshape({-1, 1});             // (400, 1)
  auto y_test = loom::sin(x_test * 3.0);                                     // (400, 1)

  Perceptron net(options.hidden);
  const auto start = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    auto loss = loom::mse_loss(net.forward(x_train), y_train);
    net.zero_grad();
    loss.backward();
    {
      loom::NoGradGuard no_grad;
      for (auto& p : net.parameters()) p.copy_(p - p.grad() * options.learning_rate);
    }
    if (epoch % (options.epochs / 10) == 0 || epoch == 1)
      std::printf("epoch %5d/%d  train mse %.5f\n", epoch, options.epochs, loss.item());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  loom::NoGradGuard no_grad;
  const double test_rmse = std::sqrt(loom::mse_loss(net.forward(x_test), y_test).item());
  std::printf("held-out RMSE %.4f (the noise alone is 0.05) after %.1f s\n", test_rmse, seconds);
  return test_rmse < 0.1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loom: train and run recurrent networks"};
  app.require_subcommand(1);
  CLI::App* train = app.add_subcommand("train", "Train a model on a task");
  std::string task;
  train->add_option("task", task, "The task to train: sine")
      ->required()
      ->check(CLI::IsMember({"sine"}));
  SineOptions options;
  train->add_option("--hidden", options.hidden, "Hidden units")->check(CLI::Range(1, 100000));
  train->add_option("--epochs", options.epochs, "Full-batch training epochs")
      ->check(CLI::Range(10, 10000000));
  train->add_option("--lr", options.learning_rate, "SGD learning rate")
      ->check(CLI::Range(1e-9, 10.0));
  train->add_option("--seed", options.seed, "Random seed");
  train->add_option("--threads", options.threads, "BLAS threads")->check(CLI::Range(1, 256));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    return train_sine(options);
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "loom: %s\n", e.what());
    return 2;
  }
}
