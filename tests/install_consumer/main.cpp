// Uses the installed headers (no xtensor on the include path is needed) and library.
#include <loom/loom.h>

#include <cstdio>

int main() {
  auto x = loom::from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  loom::sum(x * x).backward();
  const auto grad = x.grad().to_vector<double>();
  const bool ok = grad == std::vector<double>{2, 4, 6};
  std::printf("installed loom: d/dx sum(x^2) = [%g, %g, %g] %s\n", grad[0], grad[1], grad[2],
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
