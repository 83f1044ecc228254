/* Times every cblas_sgemm call of a process, grouped by shape, and prints the table at exit:
 * where a workload's GEMM time goes, which perf cannot attribute through OpenBLAS's frames.
 *
 *   gcc -O2 -shared -fPIC bench/sgemm_timer.c -o build/sgemm_timer.so -ldl -lpthread \
 *       -I/usr/include/x86_64-linux-gnu/openblas-pthread
 *   LD_PRELOAD=build/sgemm_timer.so ./build/bench_workloads --workload caption --steps 50
 *
 * One line per (M, N, K, transposes): calls, seconds, GFLOP/s; then the total. Loom calls BLAS from
 * every thread of its pool (one block of each product per thread), so the seconds are summed
 * over threads and the rates are per thread. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*sgemm_function)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint,
                               blasint, float, const float*, blasint, const float*, blasint, float, float*, blasint);

enum { kMaxShapes = 256 };
static struct {
  blasint m, n, k;
  int transpose_a, transpose_b;
  long calls;
  double seconds;
} shapes[kMaxShapes];
static int shape_count;
static double total_seconds;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static sgemm_function openblas_sgemm;

static void print_table(void) {
  for (int i = 0; i < shape_count; ++i)
    fprintf(stderr, "sgemm %6d x %6d x %6d  %c%c  calls %7ld  %8.3f s  %6.1f GFLOP/s\n", (int)shapes[i].m,
            (int)shapes[i].n, (int)shapes[i].k, shapes[i].transpose_a ? 'T' : 'N', shapes[i].transpose_b ? 'T' : 'N',
            shapes[i].calls, shapes[i].seconds,
            2.0 * shapes[i].m * shapes[i].n * shapes[i].k * shapes[i].calls / shapes[i].seconds / 1e9);
  fprintf(stderr, "sgemm total %.3f s\n", total_seconds);
}

static void resolve(void) {
  openblas_sgemm = (sgemm_function)dlsym(RTLD_NEXT, "cblas_sgemm");
  atexit(print_table);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint m, blasint n,
                 blasint k, float alpha, const float* a, blasint lda, const float* b, blasint ldb, float beta, float* c,
                 blasint ldc) {
  pthread_once(&resolve_once, resolve);
  const double start = now();
  openblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const double seconds = now() - start;
  pthread_mutex_lock(&table_lock);
  total_seconds += seconds;
  const int transpose_a = ta == CblasTrans, transpose_b = tb == CblasTrans;
  int i = 0;
  while (i < shape_count && !(shapes[i].m == m && shapes[i].n == n && shapes[i].k == k &&
                              shapes[i].transpose_a == transpose_a && shapes[i].transpose_b == transpose_b))
    ++i;
  if (i < kMaxShapes) {  // beyond the table, the total still counts it
    if (i == shape_count) {
      shapes[i].m = m, shapes[i].n = n, shapes[i].k = k;
      shapes[i].transpose_a = transpose_a, shapes[i].transpose_b = transpose_b;
      ++shape_count;
    }
    ++shapes[i].calls;
    shapes[i].seconds += seconds;
  }
  pthread_mutex_unlock(&table_lock);
}
