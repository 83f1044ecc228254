#pragma once
// Runs a PyTorch reference script (tests/torch_ref/*.py, with Debian's /usr/bin/python3) and
// reads back the named float64 tensors it prints (see torch_ref/common.py for the format).
//
//   auto ref = loom_test::torch_reference("lstm.py", "--layers 2 --bidirectional");
//   if (ref.empty()) return;  // torch is not installed here (CI always has it)
//   CHECK(max_abs_diff(out, ref.at("output")) < 1e-8);
#include <doctest/doctest.h>

#include <loom/loom.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#ifndef LOOM_TESTS_DIR
#error "LOOM_TESTS_DIR must point at the tests/ folder"
#endif

namespace loom_test {

inline bool torch_available() {
  static const bool available =
      std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
  return available;
}

/// The script's tensors by name; empty when torch is missing (a failure under CI=true, where it
/// must be installed, so the agreement tests cannot silently skip there).
inline std::map<std::string, loom::Tensor> torch_reference(const std::string& script,
                                                           const std::string& args = "") {
  std::map<std::string, loom::Tensor> tensors;
  if (!torch_available()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("PyTorch is required under CI for " << script);
    MESSAGE("skipped: /usr/bin/python3 cannot import torch (" << script << ")");
    return tensors;
  }
  const std::string command = std::string("/usr/bin/python3 ") + LOOM_TESTS_DIR + "/torch_ref/" +
                              script + " " + args;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[65536];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) output.append(buffer, n);
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    std::int64_t rank = 0;
    fields >> name >> rank;
    loom::Shape shape(static_cast<std::size_t>(rank));
    for (auto& d : shape) fields >> d;
    std::vector<double> values;
    for (std::string v; fields >> v;) values.push_back(std::strtod(v.c_str(), nullptr));
    tensors[name] = rank == 0 ? loom::from_vector(values).reshape({}) : loom::from_vector(values, shape);
  }
  REQUIRE_MESSAGE(!tensors.empty(), "no output from " << command);
  return tensors;
}

/// Largest |a - b| over all elements (shapes must agree).
inline double max_abs_diff(const loom::Tensor& a, const loom::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return worst;
}

}  // namespace loom_test
