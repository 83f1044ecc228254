// Many-to-one: a sequence in, one output. Does a digit sequence of length 2-8 contain a 7? The
// GRU reads each sequence up to its own length (the rest of the batch row is padding); its final
// hidden state h_n is classified.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>

#include <memory>
#include <vector>

#include "example_training.h"

using loom::Tensor;

struct HasSeven : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 16));
  std::shared_ptr<loom::GRU> gru = register_module("gru", std::make_shared<loom::GRU>(loom::GRUOptions(16, 32)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 2));
  // digits (B, T), lengths (B) -> logits (B, 2)
  Tensor forward(const Tensor& digits, const Tensor& lengths) {
    return out->forward(gru->forward(embed->forward(digits), lengths).h_n.select(0, 0));
  }
};

struct Batch {
  Tensor digits;   // (B, 8), int64
  Tensor lengths;  // (B): 2..8
  Tensor labels;   // (B): 1 when a 7 is among the first `length` digits
};

Batch draw_batch(std::int64_t size) {
  Batch batch{example::digits(size, 8), loom::randint(2, 9, {size}), Tensor()};
  std::vector<std::int64_t> labels;
  for (std::int64_t b = 0; b < size; ++b) {
    bool seven = false;
    for (std::int64_t t = 0; t < batch.lengths.data<std::int64_t>()[b]; ++t)
      seven |= batch.digits.data<std::int64_t>()[b * 8 + t] == 7;
    labels.push_back(seven);
  }
  batch.labels = loom::from_vector(labels);
  return batch;
}

int main() {
  loom::manual_seed(0);
  HasSeven model;
  example::train(model, 400, [&] {
    Batch batch = draw_batch(64);
    return loom::cross_entropy(model.forward(batch.digits, batch.lengths), batch.labels);
  });
  Batch test = draw_batch(256);
  return example::finish("many-to-one (is there a 7?)",
                         example::accuracy(loom::argmax(model.forward(test.digits, test.lengths), 1), test.labels),
                         false, 0.9);
}
