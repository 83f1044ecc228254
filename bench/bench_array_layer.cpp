// Issue 19 item 3's question, measured: for each family of Loom's array kernels, the op as Loom
// runs it beside the same computation written as an xtensor expression (xsimd-vectorised) or, for
// a plain product, through xtensor-blas. Both sides read the same operands (xtensor adapts Loom's
// buffers through their shapes and strides, without a copy) and allocate their result. One JSON
// line per case and side, on one thread: xtensor's assignment runs on the calling thread only.
//
//   ./build/bench_array_layer
#include <loom/loom.h>  // XTENSOR_USE_XSIMD comes from CMake (xtensor::use_xsimd), as for the library

#include <algorithm>
#include <cstdio>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>

#include "detail/tensor_impl.h"  // first_element: where a view's values start
#include "median_ms.h"

namespace {

// A contiguous float32 Loom tensor read by xtensor as a row-major array, not copied: the static
// layout is what lets xtensor's assignment and reductions take their xsimd paths.
auto as_xtensor(const loom::Tensor& t) {
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  return xt::adapt<xt::layout_type::row_major>(t.data<float>(), static_cast<std::size_t>(t.numel()),
                                                xt::no_ownership(), shape);
}

// A float32 Loom view read by xtensor through its shape and strides (elements), not copied.
auto as_strided_xtensor(const loom::Tensor& t) {
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  std::vector<std::ptrdiff_t> strides(t.strides().begin(), t.strides().end());
  std::size_t extent = 1;  // the elements the view spans from its first one
  for (std::size_t i = 0; i < shape.size(); ++i) extent += (shape[i] - 1) * static_cast<std::size_t>(strides[i]);
  return xt::adapt(loom::detail::first_element<float>(t), extent, xt::no_ownership(), shape, strides);
}

// Times Loom's op and the xtensor expression alternately, 3 rounds, and prints both medians.
template <class LoomOp, class XtensorOp>
void compare(const char* op, const char* shape, LoomOp loom_op, XtensorOp xtensor_op) {
  std::vector<double> loom_ms, xtensor_ms;
  for (int round = 0; round < 3; ++round) {
    loom_ms.push_back(median_ms([&] { loom_op(); }, 21));
    xtensor_ms.push_back(median_ms([&] { xtensor_op(); }, 21));
  }
  std::sort(loom_ms.begin(), loom_ms.end());
  std::sort(xtensor_ms.begin(), xtensor_ms.end());
  std::printf("{\"bench\": \"array_layer\", \"op\": \"%s\", \"shape\": \"%s\", \"threads\": 1, \"loom_ms\": %.5f, "
              "\"xtensor_ms\": %.5f, \"xtensor_over_loom\": %.2f}\n",
              op, shape, loom_ms[1], xtensor_ms[1], xtensor_ms[1] / loom_ms[1]);
  std::fflush(stdout);
}

}  // namespace

int main() {
  loom::set_num_threads(1);
  loom::NoGradGuard no_grad;
  loom::manual_seed(0);
  const loom::Tensor a = loom::randn({64, 5000}), b = loom::randn({64, 5000});       // (64, 5000) each
  const loom::Tensor cube = loom::randn({32, 64, 512}), bias = loom::randn({512});   // (32, 64, 512), (512)
  const loom::Tensor column = loom::randn({64, 1});                                  // (64, 1)
  const loom::Tensor rows = loom::randn({4096, 512});                                // (4096, 512)
  const loom::Tensor square = loom::randn({1024, 1024});                             // (1024, 1024)
  const loom::Tensor m512 = loom::randn({512, 512}), n512 = loom::randn({512, 512});  // (512, 512) each
  const auto xa = as_xtensor(a), xb = as_xtensor(b), xcube = as_xtensor(cube), xbias = as_xtensor(bias);
  const auto xcolumn = as_xtensor(column), xrows = as_xtensor(rows), xm = as_xtensor(m512), xn = as_xtensor(n512);
  const auto xsquare_t = as_strided_xtensor(square.t());  // the transposed view, strides (1, 1024)

  compare("add", "(64, 5000) + (64, 5000)", [&] { a + b; }, [&] { xt::xarray<float> r = xa + xb; });
  compare("mul_add", "(64, 5000) * (64, 5000) + (64, 5000)", [&] { a * b + a; },
          [&] { xt::xarray<float> r = xa * xb + xa; });
  compare("broadcast_add", "(32, 64, 512) + (512,)", [&] { cube + bias; },
          [&] { xt::xarray<float> r = xcube + xbias; });
  compare("broadcast_sub_rows", "(64, 5000) - (64, 1)", [&] { a - column; },
          [&] { xt::xarray<float> r = xa - xcolumn; });
  compare("exp", "(64, 5000)", [&] { loom::exp(a); }, [&] { xt::xarray<float> r = xt::exp(xa); });
  compare("tanh", "(64, 5000)", [&] { loom::tanh(a); }, [&] { xt::xarray<float> r = xt::tanh(xa); });
  compare("sum_rows", "(4096, 512) over axis 1", [&] { loom::sum(rows, {1}); },
          [&] { xt::xarray<float> r = xt::sum(xrows, {1}, xt::evaluation_strategy::immediate); });
  compare("sum_columns", "(4096, 512) over axis 0", [&] { loom::sum(rows, {0}); },
          [&] { xt::xarray<float> r = xt::sum(xrows, {0}, xt::evaluation_strategy::immediate); });
  compare("sum_all", "(4096, 512)", [&] { loom::sum(rows); },
          [&] { xt::xarray<float> r = xt::sum(xrows, xt::evaluation_strategy::immediate); });
  compare("transpose_contiguous", "(1024, 1024)", [&] { square.t().contiguous(); },
          [&] { xt::xarray<float> r = xsquare_t; });
  compare("layer_norm", "(4096, 512)", [&] { loom::layer_norm(rows, {512}); }, [&] {
    const auto options = xt::keep_dims | xt::evaluation_strategy::immediate;
    const xt::xarray<float> centered = xrows - xt::mean(xrows, {1}, options);
    const xt::xarray<float> variance = xt::mean(centered * centered, {1}, options);
    xt::xarray<float> r = centered / xt::sqrt(variance + 1e-5f);
  });
  compare("matmul", "(512, 512) @ (512, 512)", [&] { loom::matmul(m512, n512); }, [&] {
    xt::xtensor<float, 2> r = xt::empty<float>({512, 512});
    xt::blas::gemm(xm, xn, r);
  });
}
