// Many-to-many (encoder-decoder): a sequence in, another out, of its own length. The encoder
// LSTM reads 5 digits; its final state starts the decoder LSTM, which writes them reversed.
// Training feeds the decoder the true previous digit (teacher forcing); the test decodes
// greedily, each predicted digit being the next step's input.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>

#include <memory>
#include <vector>

#include "example_training.h"

using loom::Tensor;

constexpr std::int64_t begin_token = 10;  // the decoder's first input

struct Reverser : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(11, 32));
  std::shared_ptr<loom::LSTM> encoder = register_module("encoder", std::make_shared<loom::LSTM>(loom::LSTMOptions(32, 64)));
  std::shared_ptr<loom::LSTM> decoder = register_module("decoder", std::make_shared<loom::LSTM>(loom::LSTMOptions(32, 64)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(64, 10));

  // source (B, 5), target (B, 5) -> logits (B, 5, 10); the decoder reads <begin>, y_0, ..., y_3.
  Tensor teacher_forced(const Tensor& source, const Tensor& target) {
    auto memory = encoder->forward(embed->forward(source));
    Tensor inputs = loom::concat({loom::full({source.size(0), 1}, begin_token, loom::Dtype::Int64), target.narrow(1, 0, 4)}, 1);
    return out->forward(decoder->forward(embed->forward(inputs), Tensor(), memory.h_n, memory.c_n).output);
  }

  // source (B, 5) -> predicted digits (B, 5)
  Tensor greedy(const Tensor& source) {
    auto memory = encoder->forward(embed->forward(source));
    Tensor h = memory.h_n, c = memory.c_n;
    Tensor token = loom::full({source.size(0), 1}, begin_token, loom::Dtype::Int64);  // (B, 1)
    std::vector<Tensor> predicted;
    for (std::int64_t t = 0; t < source.size(1); ++t) {
      auto step = decoder->forward(embed->forward(token), Tensor(), h, c);
      h = step.h_n, c = step.c_n;
      token = loom::argmax(out->forward(step.output), 2);
      predicted.push_back(token);
    }
    return loom::concat(predicted, 1);
  }
};

Tensor reversed(const Tensor& x) { return loom::index_select(x, 1, loom::from_vector(std::vector<std::int64_t>{4, 3, 2, 1, 0})); }

int main() {
  loom::manual_seed(0);
  Reverser model;
  example::train(model, 600, [&] {
    Tensor source = example::digits(64, 5);
    return loom::cross_entropy(model.teacher_forced(source, reversed(source)).reshape({-1, 10}), reversed(source).reshape({-1}));
  });
  Tensor source = example::digits(256, 5);
  return example::finish("many-to-many (reverse, greedy)", example::accuracy(model.greedy(source), reversed(source)), false, 0.9);
}
