// Gradients through views (transpose, permute, slice, select, expand, squeeze) against central
// differences in float64: ops that read a view through its strides, the GEMMs that take a
// transposed view as a flag, and views of views.
#include "test_util.h"

using loom::Tensor;
using loom_test::check_gradients;
using loom_test::input;
using Inputs = std::vector<Tensor>;

TEST_CASE("elementwise ops and reductions read views through their strides") {
  check_gradients([](const Inputs& in) { return in[0].t() * in[1]; }, {input({3, 2}, 1), input({2, 3}, 2)});
  check_gradients([](const Inputs& in) { return loom::tanh(in[0].permute({2, 0, 1})) + in[1]; },
                  {input({2, 3, 4}, 3), input({4, 1, 3}, 4)});
  check_gradients([](const Inputs& in) { return loom::sum(in[0].expand({4, 2, 3}) * in[1], {0, 2}); },
                  {input({2, 1}, 5), input({4, 2, 3}, 6)});
  check_gradients([](const Inputs& in) { return loom::softmax(in[0].transpose(0, 1), 1); }, {input({4, 3}, 7)});
  check_gradients([](const Inputs& in) { return loom::max(in[0].slice(1, 1, 4, 2), 0); }, {input({3, 5}, 8)});
}

TEST_CASE("a slice of a slice, a select of a transpose, squeeze and unsqueeze of views") {
  check_gradients([](const Inputs& in) { return in[0].slice(0, 1, 5).slice(0, 0, 4, 2).slice(1, 1, 3) * 2.0; },
                  {input({6, 4}, 9)});
  check_gradients([](const Inputs& in) { return in[0].t().select(0, 1) + in[0].select(1, 2); },
                  {input({3, 3}, 10)});
  check_gradients([](const Inputs& in) { return in[0].narrow(1, 1, 1).squeeze(1).unsqueeze(0) * in[1]; },
                  {input({4, 3}, 11), input({2, 4}, 12)});
  check_gradients([](const Inputs& in) { return in[0].t().reshape({6}) * in[0].t().contiguous().view({6}); },
                  {input({2, 3}, 13)});
}

TEST_CASE("matmul and linear take transposed and strided operands") {
  // 2-D: a transposed view goes to the GEMM as a flag; a slice keeps its row stride
  check_gradients([](const Inputs& in) { return loom::matmul(in[0].t(), in[1]); }, {input({4, 3}, 14), input({4, 5}, 15)});
  check_gradients([](const Inputs& in) { return loom::matmul(in[0], in[1].t()); }, {input({3, 4}, 16), input({5, 4}, 17)});
  check_gradients([](const Inputs& in) { return loom::matmul(in[0].slice(1, 1, 4), in[1].t().slice(0, 0, 3)); },
                  {input({2, 5}, 18), input({4, 6}, 19)});
  // batched, with broadcast batch axes and transposed matrices; (B, T, K) rows folded into one GEMM
  check_gradients([](const Inputs& in) { return loom::matmul(in[0].transpose(-2, -1), in[1]); },
                  {input({2, 4, 3}, 20), input({1, 4, 2}, 21)});
  check_gradients([](const Inputs& in) { return loom::matmul(in[0].transpose(0, 1), in[1].t()); },
                  {input({3, 2, 4}, 22), input({5, 4}, 23)});
  check_gradients([](const Inputs& in) { return loom::matmul(in[0].expand({3, 2, 4}), in[1]); },
                  {input({2, 4}, 24), input({3, 4, 2}, 25)});
  check_gradients([](const Inputs& in) { return loom::linear(in[0].transpose(0, 1), in[1].t(), in[2].select(0, 1)); },
                  {input({3, 2, 4}, 26), input({4, 5}, 27), input({2, 5}, 28)});
}

TEST_CASE("split, chunk and unbind: one node for all pieces, some of them unused") {
  // every piece used, in different ops
  check_gradients([](const Inputs& in) {
    const auto p = loom::split(in[0], std::vector<std::int64_t>{1, 3, 2}, 1);
    return loom::concat({loom::tanh(p[0]) * 2.0, p[1] * p[1], loom::exp(p[2])}, 1);
  }, {input({3, 6}, 29)});
  // only the first and last pieces of a split by size, and of a chunk of a transposed view
  check_gradients([](const Inputs& in) {
    const auto p = loom::split(in[0], 2, 0);  // 2, 2, 1
    return loom::sum(p[0], {0}) * p[2].squeeze(0);
  }, {input({5, 3}, 30)});
  check_gradients([](const Inputs& in) {
    const auto p = loom::chunk(in[0].t(), 3, 1);  // (4, 3) -> (4, 1) x 3
    return p[2] - p[0] * in[1];
  }, {input({3, 4}, 31), input({4, 1}, 32)});
  // unbind, with a piece used twice and one piece not at all; a piece cut again
  check_gradients([](const Inputs& in) {
    const auto steps = loom::unbind(in[0], 1);  // 4 x (2, 3)
    const auto halves = loom::chunk(steps[3], 2, 1);
    return steps[0] * steps[2] + loom::sigmoid(steps[0]) + loom::sum(halves[1], {1}, true);
  }, {input({2, 4, 3}, 33)});
}
