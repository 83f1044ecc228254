// Every RNN shape of the lecture on a toy task, each trained in a few lines:
//   one-to-one            a vanilla network: x -> x^2
//   one-to-many           a start digit d -> the sequence d, d+1, ..., d+5 (mod 10)
//   many-to-one           a digit sequence of any length -> does it contain a 7?
//   many-to-many          encoder-decoder: a digit sequence -> the same sequence reversed
//   synced many-to-many   a digit sequence -> at each step, the largest digit so far
// The recurrence is h_t = f_W(h_{t-1}, x_t) with the same W at every step. Exits non-zero if a
// task fails to learn, so CI runs it as a test.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>
#include <loom/loom.h>
#include <loom/optim/optimizers.h>

#include <cstdio>
#include <functional>
#include <memory>

using loom::Tensor;

namespace {

// Adam on `loss` for `steps` steps (each draws a fresh batch).
void train(loom::Module& model, int steps, const std::function<Tensor()>& loss) {
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.01));
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    loss().backward();
    adam.step();
  }
}

// Fraction of equal entries of two int64 tensors.
double accuracy(const Tensor& predicted, const Tensor& target) {
  return loom::mean(loom::eq(predicted.to(loom::Dtype::Float32), target.to(loom::Dtype::Float32))).item();
}

// Random digits (B, T).
Tensor digits(std::int64_t batch, std::int64_t steps) { return loom::randint(0, 10, {batch, steps}); }

// A module is a bag of named parts here: each task registers what it uses.
struct Parts : loom::Module {
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) { return register_module(name, module); }
};

double one_to_one() {
  Parts m;
  auto hidden = m.add("hidden", std::make_shared<loom::Linear>(1, 32));
  auto out = m.add("out", std::make_shared<loom::Linear>(32, 1));
  auto net = [&](const Tensor& x) { return out->forward(loom::tanh(hidden->forward(x))); };
  train(m, 500, [&] { auto x = loom::rand({64, 1}, -1, 1); return loom::mse_loss(net(x), x * x); });
  auto x = loom::rand({256, 1}, -1, 1);
  return loom::mse_loss(net(x), x * x).item();  // an error: lower is better
}

double one_to_many() {
  Parts m;
  auto embed = m.add("embed", std::make_shared<loom::Embedding>(10, 32));
  auto lstm = m.add("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(1, 32)));
  auto out = m.add("out", std::make_shared<loom::Linear>(32, 10));
  auto run = [&](const Tensor& start) {  // start (B) -> logits (B, 6, 10)
    Tensor h0 = embed->forward(start).unsqueeze(0);                   // (1, B, 32): the one input
    return out->forward(lstm->forward(loom::zeros({start.size(0), 6, 1}), Tensor(), h0).output);
  };
  auto targets = [](const Tensor& start) {  // (B, 6): d, d+1, ... mod 10
    auto steps = loom::arange(0, 6, 1, loom::Dtype::Int64);
    std::vector<std::int64_t> v;
    for (auto d : start.to_vector<std::int64_t>()) for (auto s : steps.to_vector<std::int64_t>()) v.push_back((d + s) % 10);
    return loom::from_vector(v, {start.size(0), 6});
  };
  train(m, 300, [&] { auto s = loom::randint(0, 10, {64}); return loom::cross_entropy(run(s).reshape({-1, 10}), targets(s).reshape({-1})); });
  auto s = loom::arange(0, 10, 1, loom::Dtype::Int64);
  return accuracy(loom::argmax(run(s), 2), targets(s));
}

double many_to_one() {
  Parts m;
  auto embed = m.add("embed", std::make_shared<loom::Embedding>(10, 16));
  auto gru = m.add("gru", std::make_shared<loom::GRU>(loom::GRUOptions(16, 32)));
  auto out = m.add("out", std::make_shared<loom::Linear>(32, 2));
  auto batch = [] {  // digits (B, 8) with lengths 2..8; label: a 7 among the first `length`
    auto x = digits(64, 8);
    auto lengths = loom::randint(2, 9, {64});
    std::vector<std::int64_t> labels;
    for (std::int64_t b = 0; b < 64; ++b) {
      bool seven = false;
      for (std::int64_t t = 0; t < lengths.data<std::int64_t>()[b]; ++t) seven |= x.data<std::int64_t>()[b * 8 + t] == 7;
      labels.push_back(seven);
    }
    return std::vector<Tensor>{x, lengths, loom::from_vector(labels)};
  };
  auto logits = [&](const std::vector<Tensor>& b) { return out->forward(gru->forward(embed->forward(b[0]), b[1]).h_n.select(0, 0)); };
  train(m, 400, [&] { auto b = batch(); return loom::cross_entropy(logits(b), b[2]); });
  auto b = batch();
  return accuracy(loom::argmax(logits(b), 1), b[2]);
}

double many_to_many() {
  Parts m;
  const std::int64_t bos = 10;  // the decoder's start token
  auto embed = m.add("embed", std::make_shared<loom::Embedding>(11, 32));
  auto encoder = m.add("encoder", std::make_shared<loom::LSTM>(loom::LSTMOptions(32, 64)));
  auto decoder = m.add("decoder", std::make_shared<loom::LSTM>(loom::LSTMOptions(32, 64)));
  auto out = m.add("out", std::make_shared<loom::Linear>(64, 10));
  auto reversed = [](const Tensor& x) { return loom::index_select(x, 1, loom::from_vector(std::vector<std::int64_t>{4, 3, 2, 1, 0})); };
  auto teacher_forced = [&](const Tensor& x, const Tensor& y) {  // decoder reads <bos>, y_0, ..., y_3
    auto memory = encoder->forward(embed->forward(x));
    auto inputs = loom::concat({loom::full({x.size(0), 1}, bos, loom::Dtype::Int64), y.narrow(1, 0, 4)}, 1);
    return out->forward(decoder->forward(embed->forward(inputs), Tensor(), memory.h_n, memory.c_n).output);
  };
  train(m, 600, [&] { auto x = digits(64, 5); return loom::cross_entropy(teacher_forced(x, reversed(x)).reshape({-1, 10}), reversed(x).reshape({-1})); });
  // Greedy decoding: each predicted digit is the next step's input.
  auto x = digits(256, 5);
  auto memory = encoder->forward(embed->forward(x));
  Tensor h = memory.h_n, c = memory.c_n, token = loom::full({256, 1}, bos, loom::Dtype::Int64);
  std::vector<Tensor> predicted;
  for (int t = 0; t < 5; ++t) {
    auto step = decoder->forward(embed->forward(token), Tensor(), h, c);
    h = step.h_n, c = step.c_n;
    token = loom::argmax(out->forward(step.output), 2);  // (B, 1)
    predicted.push_back(token);
  }
  return accuracy(loom::concat(predicted, 1), reversed(x));
}

double synced_many_to_many() {
  Parts m;
  auto embed = m.add("embed", std::make_shared<loom::Embedding>(10, 16));
  auto lstm = m.add("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(16, 32)));
  auto out = m.add("out", std::make_shared<loom::Linear>(32, 10));
  auto running_max = [](const Tensor& x) {
    auto v = x.to_vector<std::int64_t>();
    for (std::size_t i = 1; i < v.size(); ++i) if (i % 8) v[i] = std::max(v[i], v[i - 1]);
    return loom::from_vector(v, x.shape());
  };
  auto tags = [&](const Tensor& x) { return out->forward(lstm->forward(embed->forward(x)).output); };  // (B, 8, 10)
  train(m, 400, [&] { auto x = digits(64, 8); return loom::cross_entropy(tags(x).reshape({-1, 10}), running_max(x).reshape({-1})); });
  auto x = digits(256, 8);
  return accuracy(loom::argmax(tags(x), 2), running_max(x));
}

}  // namespace

int main() {
  loom::manual_seed(0);
  struct Task {
    const char* name;
    double (*run)();
    bool lower_is_better;
    double target;
  };
  const Task tasks[] = {{"one-to-one (MSE of x^2)", one_to_one, true, 0.01},
                        {"one-to-many (count on from d)", one_to_many, false, 0.95},
                        {"many-to-one (is there a 7?)", many_to_one, false, 0.9},
                        {"many-to-many (reverse, greedy)", many_to_many, false, 0.9},
                        {"synced many-to-many (running max)", synced_many_to_many, false, 0.95}};
  int failures = 0;
  for (const auto& task : tasks) {
    const double value = task.run();
    const bool ok = task.lower_is_better ? value <= task.target : value >= task.target;
    failures += !ok;
    std::printf("%-36s %s %.4f (target %s %.2f)\n", task.name, ok ? "ok  " : "FAIL", value,
                task.lower_is_better ? "<=" : ">=", task.target);
  }
  return failures ? 1 : 0;
}
