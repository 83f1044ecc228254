// Elementwise arithmetic with broadcasting and int64/float type promotion, comparisons and
// selection; forward and backward side by side. Gradients of broadcast operands are summed back
// to their shapes (sum_to).
#include <cmath>

#include <xtensor/xmath.hpp>

#include "detail/array_expr.h"
#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {

using detail::sum_to;

namespace {

// Calls f(T{}) with T the C++ type of any dtype (float, double or std::int64_t).
template <class F>
decltype(auto) dispatch_any(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::Float32: return f(float{});
    case Dtype::Float64: return f(double{});
    case Dtype::Int64: break;
  }
  return f(std::int64_t{});
}

// The dtype two operands compute in, as PyTorch promotes them: int64 with int64 stays int64, int64
// with a float tensor takes that float's dtype. float32 with float64 stays an error (as everywhere
// in Loom) so that a model never drifts into mixed precision unnoticed.
Dtype promoted_dtype(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_defined(op, a);
  detail::check_defined(op, b);
  if (a.dtype() == b.dtype()) return a.dtype();
  if (!a.is_floating_point()) return b.dtype();
  if (!b.is_floating_point()) return a.dtype();
  detail::check_same_floating(op, a, b);  // throws: float32 with float64
  return a.dtype();
}

// out = f(a, b) elementwise with broadcasting; out has the broadcast shape, a and b are read
// through their strides. f takes and returns scalars or xsimd batches alike, so each op is
// written once. Same-shape operands are one xtensor expression per thread, which xtensor assigns
// in xsimd lanes (issue 19 item 3: within 10% of the loop it replaced; bench/README). Broadcast
// operands stay Loom's loops over the coalesced axes: one xtensor expression per innermost run
// was 1.5x slower on Zen 4 for rows of 512 and 5.3x for rows of 16 (its set-up costs ~15 ns a
// run), and xtensor's own broadcasting steps through a broadcast column element by element (35x).
template <class T, class F>
void binary_kernel(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = detail::first_element<T>(a);
  const T* pb = detail::first_element<T>(b);
  T* po = out.data<T>();
  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    detail::parallel_rows(out.numel(), 1, [&](std::int64_t begin, std::int64_t end) {
      const std::int64_t n = end - begin;
      detail::assign(po + begin, n,
                     xt::make_lambda_xfunction(F(f), detail::span(pa + begin, n), detail::span(pb + begin, n)));
    });
    return;
  }
  detail::parallel_broadcast_loop<3>(
      out.shape(),
      {detail::contiguous_strides(out.shape()), detail::broadcast_strides(a, out.shape()),
       detail::broadcast_strides(b, out.shape())},
      [&](const std::array<std::int64_t, 3>& off, std::int64_t n, const std::array<std::int64_t, 3>& st) {
        T* o = po + off[0];
        const T* x = pa + off[1];
        const T* y = pb + off[2];
        // the common cases get loops the compiler can vectorise
        if (st[1] == 1 && st[2] == 0) {
          const T yv = *y;
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        } else if (st[1] == 0 && st[2] == 1) {
          const T xv = *x;
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i * st[1]], y[i * st[2]]);
        }
      });
}

// out = f(a, b) with broadcasting, in the promoted dtype of a and b.
template <class F>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, F f) {
  const Dtype dtype = promoted_dtype(name, a, b);
  const Tensor pa = a.to(dtype), pb = b.to(dtype);  // a no-op for an operand already in dtype
  Tensor out = empty(detail::broadcast_shapes(name, a.shape(), b.shape()), dtype);
  dispatch_any(dtype, [&](auto tag) { binary_kernel<decltype(tag)>(pa, pb, out, f); });
  return out;
}

// cond ? x : y, for scalars and lane by lane for xsimd batches (xsimd 8 has no scalar select).
template <class T>
T choose(bool cond, T x, T y) {
  return cond ? x : y;
}
template <class T, class A>
xsimd::batch<T, A> choose(const xsimd::batch_bool<T, A>& cond, const xsimd::batch<T, A>& x,
                          const xsimd::batch<T, A>& y) {
  return xsimd::select(cond, x, y);
}

// 1 where the comparison holds, else 0, in the operands' type.
template <class V, class Cond>
V one_if(const Cond& cond) {
  return choose(cond, V(1), V(0));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary("add", a, b, [](auto x, auto y) { return x + y; });
  record_op(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary("sub", a, b, [](auto x, auto y) { return x - y; });
  record_op(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary("mul", a, b, [](auto x, auto y) { return x * y; });
  record_op(out, "mul", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{a.requires_grad() ? sum_to(g * b, a.shape()) : Tensor(),
                               b.requires_grad() ? sum_to(g * a, b.shape()) : Tensor()};
  }, /*saved=*/{a, b});
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  if (promoted_dtype("div", a, b) == Dtype::Int64)  // true division, as PyTorch: 7 / 2 = 3.5
    return div(a.to(Dtype::Float32), b.to(Dtype::Float32));
  Tensor out = binary("div", a, b, [](auto x, auto y) { return x / y; });
  record_op(out, "div", {a, b}, [a, b](const Tensor& g) {
    Tensor g_over_b = g / b;
    return std::vector<Tensor>{
        a.requires_grad() ? sum_to(g_over_b, a.shape()) : Tensor(),
        b.requires_grad() ? sum_to(neg(g_over_b * a / b), b.shape()) : Tensor()};
  }, /*saved=*/{a, b});
  return out;
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  detail::check_same_floating("pow", base, exponent);
  Tensor out = binary("pow", base, exponent,
                      // std::pow alone: xsimd's pow differs from it in the last bit, and xtensor would
                      // use each for another part of a run, chosen by the address
                      [](auto x, auto y) -> decltype(std::pow(x, y)) { return std::pow(x, y); });
  record_op(out, "pow", {base, exponent}, [base, exponent, y = out.detach()](const Tensor& g) {
    return std::vector<Tensor>{
        base.requires_grad()
            ? sum_to(g * exponent * pow(base, exponent - 1.0), base.shape())
            : Tensor(),
        exponent.requires_grad() ? sum_to(g * y * log(base), exponent.shape()) : Tensor()};
  }, /*saved=*/{base, exponent, out});
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary("minimum", a, b, [](auto x, auto y) { return choose(x <= y, x, y); });
  record_op(out, "minimum", {a, b}, [a, b](const Tensor& g) {
    Tensor a_chosen = 1.0 - gt(a, b);  // ties go to a
    return std::vector<Tensor>{sum_to(g * a_chosen, a.shape()),
                               sum_to(g * (1.0 - a_chosen), b.shape())};
  }, /*saved=*/{a, b});
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary("maximum", a, b, [](auto x, auto y) { return choose(x >= y, x, y); });
  record_op(out, "maximum", {a, b}, [a, b](const Tensor& g) {
    Tensor a_chosen = 1.0 - lt(a, b);
    return std::vector<Tensor>{sum_to(g * a_chosen, a.shape()),
                               sum_to(g * (1.0 - a_chosen), b.shape())};
  }, /*saved=*/{a, b});
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) {
  return binary("eq", a, b, [](auto x, auto y) { return one_if<decltype(x)>(x == y); });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return binary("gt", a, b, [](auto x, auto y) { return one_if<decltype(x)>(x > y); });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return binary("lt", a, b, [](auto x, auto y) { return one_if<decltype(x)>(x < y); });
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_defined("where", condition);
  const Dtype dtype = promoted_dtype("where", a, b);
  const Tensor pa = a.to(dtype), pb = b.to(dtype);
  const Shape out_shape = detail::broadcast_shapes(
      "where", condition.shape(), detail::broadcast_shapes("where", a.shape(), b.shape()));
  // Nonzero means true, whatever the dtype: a fractional float condition is made 0/1 before it
  // meets int64 operands, whose conversion would truncate 0.5 to false.
  const Tensor truth = condition.is_floating_point() && dtype == Dtype::Int64
                           ? 1 - eq(condition, integer_scalar_like(condition, 0))
                           : condition;
  Tensor mask = truth.to(dtype).detach();
  Tensor out = empty(out_shape, dtype);
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pm = detail::first_element<T>(mask);  // all three read through their strides
    const T* va = detail::first_element<T>(pa);
    const T* vb = detail::first_element<T>(pb);
    T* po = out.data<T>();
    detail::broadcast_loop<4>(
        out_shape,
        {detail::contiguous_strides(out_shape), detail::broadcast_strides(mask, out_shape),
         detail::broadcast_strides(pa, out_shape), detail::broadcast_strides(pb, out_shape)},
        [&](const std::array<std::int64_t, 4>& off, std::int64_t n,
            const std::array<std::int64_t, 4>& st) {
          for (std::int64_t i = 0; i < n; ++i)
            po[off[0] + i] = pm[off[1] + i * st[1]] != T(0) ? va[off[2] + i * st[2]]
                                                            : vb[off[3] + i * st[3]];
        });
  });
  record_op(out, "where", {a, b}, [mask, sa = a.shape(), sb = b.shape()](const Tensor& g) {
    Tensor zero = scalar_tensor(0.0, g.dtype());
    return std::vector<Tensor>{sum_to(where(mask, g, zero), sa), sum_to(where(mask, zero, g), sb)};
  });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  detail::check_defined("masked_fill", x);
  detail::check_defined("masked_fill", mask);
  if (detail::broadcast_shapes("masked_fill", x.shape(), mask.shape()) != x.shape())
    throw ShapeError(fmt::format("masked_fill: mask of shape {} does not broadcast to the input's "
                                 "shape {}", shape_str(mask.shape()), shape_str(x.shape())));
  return where(mask, scalar_tensor(value, x.dtype()), x);  // int64 x: value truncated, as PyTorch
}

// ---- unary arithmetic -----------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  return detail::unary_from_output(
      "neg", x, [](auto in) { return -in; }, [](auto, auto g) { return -g; });
}

Tensor pow(const Tensor& x, double exponent) {
  // The common exponents exactly (a generic pow goes through exp and log, and 2 ** 2 may come
  // out as 4.000000000000001), and faster.
  if (exponent == 1.0) return x.clone();
  if (exponent == 2.0) return mul(x, x);
  if (exponent == 0.5) return sqrt(x);
  return detail::unary_from_input(
      "pow", x,
      [exponent](auto in) {
        using Batch = decltype(in);
        return xsimd::pow(in, Batch(static_cast<typename Batch::value_type>(exponent)));
      },
      [exponent](auto in, auto g) {
        using Batch = decltype(in);
        using T = typename Batch::value_type;
        return g * Batch(static_cast<T>(exponent)) * xsimd::pow(in, Batch(static_cast<T>(exponent - 1.0)));
      });
}

Tensor exp(const Tensor& x) {
  return detail::unary_from_output(
      "exp", x, [](auto in) { return xsimd::exp(in); }, [](auto y, auto g) { return g * y; });
}

Tensor log(const Tensor& x) {
  return detail::unary_from_input(
      "log", x, [](auto in) { return xsimd::log(in); }, [](auto in, auto g) { return g / in; });
}

Tensor sqrt(const Tensor& x) {
  return detail::unary_from_output(
      "sqrt", x, [](auto in) { return xsimd::sqrt(in); },
      [](auto y, auto g) { return g / (decltype(y)(2) * y); });
}

Tensor abs(const Tensor& x) {
  return detail::unary_from_input(
      "abs", x, [](auto in) { return xsimd::abs(in); },
      [](auto in, auto g) {
        using Batch = decltype(in);
        return xsimd::select(in > Batch(0), g, xsimd::select(in < Batch(0), -g, Batch(0)));
      });
}

Tensor sin(const Tensor& x) {
  return detail::unary_from_input(
      "sin", x, [](auto in) { return xsimd::sin(in); },
      [](auto in, auto g) { return g * xsimd::cos(in); });
}

Tensor cos(const Tensor& x) {
  return detail::unary_from_input(
      "cos", x, [](auto in) { return xsimd::cos(in); },
      [](auto in, auto g) { return -g * xsimd::sin(in); });
}

Tensor clamp(const Tensor& x, double low, double high) {
  if (low > high)
    throw ValueError(fmt::format("clamp: low ({}) must not exceed high ({})", low, high));
  return detail::unary_from_input(
      "clamp", x,
      [low, high](auto in) {
        using Batch = decltype(in);
        using T = typename Batch::value_type;
        return xsimd::clip(in, Batch(static_cast<T>(low)), Batch(static_cast<T>(high)));
      },
      [low, high](auto in, auto g) {
        using Batch = decltype(in);
        using T = typename Batch::value_type;
        return xsimd::select(in >= Batch(static_cast<T>(low)) && in <= Batch(static_cast<T>(high)), g, Batch(0));
      });
}

// ---- operators ------------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }

namespace {
// A double operand: in the tensor's float dtype, float32 for an int64 tensor (as PyTorch's
// `int_tensor * 0.5`).
Tensor scalar_like(const Tensor& t, double value) {
  detail::check_defined("scalar arithmetic", t);
  return scalar_tensor(value, t.is_floating_point() ? t.dtype() : Dtype::Float32);
}
}  // namespace

Tensor integer_scalar_like(const Tensor& t, std::int64_t value) {
  detail::check_defined("scalar arithmetic", t);
  return scalar_tensor(static_cast<double>(value), t.dtype());
}

Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

}  // namespace loom
