// Fits y = sin(3x) on [-1, 1] with a two-layer network written from Loom's ops and a Module.
// This is the README's first example: build it and run ./build/fit_function.
#include <loom/loom.h>

#include <cmath>
#include <cstdio>

struct TwoLayerNet : loom::Module {
  loom::Tensor w1, b1, w2, b2;
  explicit TwoLayerNet(std::int64_t hidden) {
    w1 = register_parameter("w1", loom::randn({1, hidden}));               // (1, H)
    b1 = register_parameter("b1", loom::zeros({hidden}));                  // (H)
    w2 = register_parameter("w2", loom::randn({hidden, 1}) / std::sqrt(double(hidden)));  // (H, 1)
    b2 = register_parameter("b2", loom::zeros({1}));                       // (1)
  }
  loom::Tensor forward(const loom::Tensor& x) {                            // x: (N, 1)
    return loom::matmul(loom::tanh(loom::matmul(x, w1) + b1), w2) + b2;    // (N, 1)
  }
};

int main() {
  loom::manual_seed(0);
  auto x = loom::arange(-1.0, 1.0, 0.01).reshape({-1, 1});                 // (200, 1)
  auto y = loom::sin(x * 3.0);                                             // (200, 1)
  TwoLayerNet net(32);
  for (int step = 0; step <= 2000; ++step) {
    auto loss = loom::mse_loss(net.forward(x), y);
    net.zero_grad();
    loss.backward();
    loom::NoGradGuard no_grad;                                             // plain SGD
    for (auto& p : net.parameters()) p.copy_(p - p.grad() * 0.1);
    if (step % 500 == 0) std::printf("step %4d  loss %.5f\n", step, loss.item());
  }
}
