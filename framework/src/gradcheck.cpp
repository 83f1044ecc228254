// Central-difference gradient checking in float64.
#include <cmath>

#include "detail/tensor_impl.h"
#include "loom/gradcheck.h"
#include "loom/ops.h"
#include "loom/random.h"

namespace loom {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& function,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  for (const auto& input : inputs)
    if (input.defined() && input.requires_grad() && input.dtype() != Dtype::Float64)
      throw DtypeError(fmt::format("gradcheck: inputs that require grad must be float64, got {}",
                                   dtype_name(input.dtype())));
  // Project the output onto a fixed random direction so that one scalar checks every element.
  Tensor first_output = function(inputs);
  detail::check_floating("gradcheck", first_output);
  Generator generator(options.seed);
  const Tensor projection = randn(first_output.shape(), Dtype::Float64, &generator);
  auto objective = [&](const std::vector<Tensor>& in) {
    return sum(function(in) * projection);
  };

  for (Tensor input : inputs) {
    if (!input.defined() || !input.requires_grad()) continue;
    input.zero_grad();
    input.retain_grad();  // an input computed by an op keeps its gradient too
  }
  objective(inputs).backward();

  GradcheckResult result;
  result.passed = true;
  NoGradGuard no_grad;
  for (std::size_t which = 0; which < inputs.size(); ++which) {
    const Tensor& input = inputs[which];
    if (!input.defined() || !input.requires_grad()) continue;
    const Tensor analytic = input.grad().defined() ? input.grad() : zeros_like(input);
    double* values = const_cast<Tensor&>(input).data<double>();
    for (std::int64_t i = 0; i < input.numel(); ++i) {
      const double saved = values[i];
      values[i] = saved + options.step;
      const double plus = objective(inputs).item();
      values[i] = saved - options.step;
      const double minus = objective(inputs).item();
      values[i] = saved;
      const double numeric = (plus - minus) / (2.0 * options.step);
      const double exact = analytic.data<double>()[i];
      const double error = std::abs(exact - numeric) /
                           std::max({std::abs(exact), std::abs(numeric), options.denominator_floor});
      if (!(error <= result.max_relative_error)) {  // also catches NaN
        result.max_relative_error = std::isnan(error) ? INFINITY : error;
        result.worst = fmt::format("input {} [{}]: analytic {:.10g} numeric {:.10g}", which, i,
                                   exact, numeric);
      }
    }
  }
  result.passed = result.max_relative_error <= options.tolerance;
  return result;
}

}  // namespace loom
