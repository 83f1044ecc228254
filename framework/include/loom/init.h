#pragma once
/// Parameter initialisation, as torch.nn.init: in-place fills of a tensor's storage (no graph is
/// recorded), each drawing from `generator` or the default one, and rules that apply them to a
/// module's parameters by name.
///
///     loom::init::kaiming_uniform_(layer.weight, std::sqrt(5.0));     // one tensor
///     loom::init::apply(model, {{"*weight_hh*", loom::init::orthogonal()},
///                               {"*bias*", loom::init::zeros()}});    // by rule
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "loom/module.h"
#include "loom/random.h"
#include "loom/tensor.h"

namespace loom::init {

/// Which fan a Kaiming initialiser preserves: the forward pass's variance (FanIn) or the
/// backward pass's (FanOut).
enum class FanMode { FanIn, FanOut };

/// The nonlinearities torch.nn.init.calculate_gain knows ("conv" covers conv1d/2d/3d and their
/// transposes, all with gain 1).
enum class Nonlinearity { Linear, Conv, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };

/// The recommended gain for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2)
/// (relu), sqrt(2 / (1 + negative_slope^2)) (leaky_relu), 3/4 (selu).
///
///     double gain = loom::init::calculate_gain(loom::init::Nonlinearity::Tanh);  // 5/3
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

/// (fan_in, fan_out) as PyTorch's _calculate_fan_in_and_fan_out: for a weight (out, in, k...)
/// fan_in = in * prod(k), fan_out = out * prod(k). ValueError for fewer than 2 dimensions.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

// ---- in-place initialisers: each fills `tensor` (float32 or float64) and returns it ----------

/// U(a, b).
Tensor uniform_(Tensor tensor, double a = 0.0, double b = 1.0, Generator* generator = nullptr);
/// N(mean, std^2).
Tensor normal_(Tensor tensor, double mean = 0.0, double std = 1.0,
               Generator* generator = nullptr);
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
/// Glorot: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0, Generator* generator = nullptr);
/// Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1.0, Generator* generator = nullptr);
/// He: U(-b, b) with b = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).
/// PyTorch's Linear uses a = sqrt(5), which gives b = 1 / sqrt(fan_in).
Tensor kaiming_uniform_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                        Generator* generator = nullptr);
/// He: N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                       Generator* generator = nullptr);
/// A (semi-)orthogonal matrix times `gain`, for a tensor viewed as (size(0), numel / size(0)):
/// orthonormal rows when rows <= cols, orthonormal columns otherwise. From the QR decomposition
/// (Gram-Schmidt in double) of a standard normal matrix, signs fixed so R has a positive
/// diagonal, which makes the result uniformly (Haar) distributed, as in PyTorch.
Tensor orthogonal_(Tensor tensor, double gain = 1.0, Generator* generator = nullptr);

// ---- applying initialisers by parameter name -------------------------------------------------

/// An initialiser ready to apply to one tensor (the factories below bind their arguments).
using Initializer = std::function<void(Tensor)>;

Initializer uniform(double a = 0.0, double b = 1.0, Generator* generator = nullptr);
Initializer normal(double mean = 0.0, double std = 1.0, Generator* generator = nullptr);
Initializer constant(double value);
Initializer zeros();
Initializer ones();
Initializer xavier_uniform(double gain = 1.0, Generator* generator = nullptr);
Initializer xavier_normal(double gain = 1.0, Generator* generator = nullptr);
Initializer kaiming_uniform(double a = 0.0, FanMode mode = FanMode::FanIn,
                            Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                            Generator* generator = nullptr);
Initializer kaiming_normal(double a = 0.0, FanMode mode = FanMode::FanIn,
                           Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                           Generator* generator = nullptr);
Initializer orthogonal(double gain = 1.0, Generator* generator = nullptr);

/// A pattern over dotted parameter names and the initialiser for the parameters it matches.
/// A pattern with `*` (any run of characters, dots included) or `?` (one character) is a glob
/// over the whole name: "*weight_hh*", "encoder.*.bias". A pattern without them matches the
/// whole name or a dotted suffix of it: "bias" matches "bias" and "fc.bias", not "fc.in_bias".
struct Rule {
  std::string pattern;
  Initializer initializer;
};

/// True when `name` matches `pattern` in the sense of Rule.
bool matches(const std::string& pattern, const std::string& name);

/// Initialises each parameter of `module` (recursively) with the first rule that matches its
/// dotted name; parameters no rule matches keep their values. Returns the names initialised, in
/// named_parameters() order. A rule that matches no parameter is almost always a typo, so it is
/// a ValueError (raised before anything is changed).
///
///     auto done = loom::init::apply(model, {
///         {"*weight_hh*", loom::init::orthogonal()},             // recurrent weights
///         {"*weight_ih*", loom::init::xavier_uniform()},
///         {"*.bias", loom::init::zeros()}});
std::vector<std::string> apply(Module& module, const std::vector<Rule>& rules);

}  // namespace loom::init
