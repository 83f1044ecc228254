// A Loom built for AVX2 and FMA (the default on x86-64, see CMakeLists.txt) stops with a message
// on a CPU without them, instead of dying of an illegal instruction in its first vector loop.
// The check runs as the shared library loads, before the rest of its code, and this file is
// compiled for plain x86-64 (-mno-avx) so that the check itself runs anywhere.
#ifdef LOOM_REQUIRE_AVX2_FMA
#include <cstdio>
#include <cstdlib>

namespace {

__attribute__((constructor(101))) void require_avx2_and_fma() {
  __builtin_cpu_init();  // constructors run before the compiler's own CPU detection
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return;
  std::fputs("loom: this build of Loom needs a CPU with AVX2 and FMA, which this one lacks; build Loom on "
             "this machine with -DLOOM_X86_AVX2=OFF\n",
             stderr);
  std::_Exit(1);
}

}  // namespace
#endif
