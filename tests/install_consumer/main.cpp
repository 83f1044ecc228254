// Uses the installed headers (no xtensor on the include path is needed) and libraries, through
// the umbrella header alone.
#include <loom/loom.h>

#include <cstdio>
#include <string>

int main() {
  auto x = loom::from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  loom::sum(x * x).backward();
  const auto grad = x.grad().to_vector<double>();
  const auto tokens = loom::data::tokenize("Don't panic.");
  const std::string version = std::to_string(LOOM_VERSION_MAJOR) + "." + std::to_string(LOOM_VERSION_MINOR) + "." +
                              std::to_string(LOOM_VERSION_PATCH);
  const bool ok = grad == std::vector<double>{2, 4, 6} && tokens.size() == 3 && version == loom::kVersion;
  std::printf("installed loom %s: d/dx sum(x^2) = [%g, %g, %g], %zu tokens %s\n", loom::kVersion, grad[0], grad[1],
              grad[2], tokens.size(), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
