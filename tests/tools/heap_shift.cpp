// Preloaded (LD_PRELOAD) by test_determinism.sh: allocates and keeps a few odd-sized blocks before
// the program's main, so every buffer the program allocates later sits at another address than
// in a run without it. Results must not change.
#include <cstdlib>

namespace {

struct HeapShift {
  HeapShift() {
    for (int i = 0; i < kBlocks; ++i) blocks[i] = std::malloc(static_cast<std::size_t>(24 + 40 * i));
  }
  static constexpr int kBlocks = 5;
  void* blocks[kBlocks];
};

HeapShift shift;  // never freed: the point is to occupy the heap

}  // namespace
