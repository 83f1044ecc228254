# Sourced by the bench scripts: what every result line carries so that it can be read on its own
# later (the CPU changes between sessions, and a figure holds for the CPU it was measured on).
#   MACHINE                  one JSON object: CPU vendor, family, model, name, the flags that pick
#                            kernels (avx2, fma, avx512f, avx512_vnni), OpenBLAS's core name and version
#   gemm_bench_ready BUILD   builds ../shared/anchors' C OpenBLAS program into BUILD/gemm_bench
#                            unless it is there and newer than its source; false without the source
#   sgemm_peak OUT BUILD     appends the same-run SGEMM peak: that program on 2048^3 at 1 and 2
#                            threads, one line each (case sgemm_peak)
#   CPU                      the CPU in one line: vendor, family, model and those flags
#   stamp_machine OUT        puts "machine": MACHINE and "cpu": CPU first in every line of OUT

# One pass over /proc/cpuinfo: MACHINE's CPU part, and CPU, the same in one line a reader can
# take in at a glance ("GenuineIntel family 6 model 167, flags avx2 fma avx512f avx512_vnni").
{ IFS= read -r MACHINE; IFS= read -r CPU; } < <(awk -F': *' '/^vendor_id/ && !v {v=$2}
  /^cpu family/ && !f {f=$2} /^model\t/ && !m {m=$2} /^model name/ && !n {n=$2} /^flags/ && !g {g=$2}
  END {split(g, a, " "); for (i in a) have[a[i]] = 1
       printf "{\"vendor\": \"%s\", \"family\": %s, \"model\": %s, \"name\": \"%s\"", v, f, m, n
       count = split("avx2 fma avx512f avx512_vnni", flags, " "); present = ""
       for (i = 1; i <= count; i++) {
         printf ", \"%s\": %s", flags[i], have[flags[i]] ? "true" : "false"
         if (have[flags[i]]) present = present " " flags[i]
       }
       printf "\n%s family %s model %s, flags%s\n", v, f, m, present == "" ? " none of avx2 fma avx512f avx512_vnni" : present}' /proc/cpuinfo)
# OpenBLAS picks its kernels at run time (DYNAMIC_ARCH): the core it picked is part of the machine.
MACHINE+=$(/usr/bin/python3 - <<'PY'
import ctypes
blas = ctypes.CDLL("libopenblas.so.0")
blas.openblas_get_corename.restype = blas.openblas_get_config.restype = ctypes.c_char_p
print(f', "openblas_core": "{blas.openblas_get_corename().decode()}", '
      f'"openblas": "{blas.openblas_get_config().decode().split()[1]}"}}')
PY
)

gemm_bench_ready() {
  local source=../shared/anchors/gemm_bench.c
  [ -f "$source" ] || return 1
  [ "$1/gemm_bench" -nt "$source" ] || gcc -O2 -o "$1/gemm_bench" "$source" -lopenblas
}

sgemm_peak() {
  local out=$1 build=$2 threads
  gemm_bench_ready "$build" || { echo "sgemm_peak: ../shared/anchors/gemm_bench.c missing: no peak in this run" >&2; return 0; }
  for threads in 1 2; do
    OPENBLAS_NUM_THREADS=$threads OPENBLAS_THREAD_TIMEOUT=4 "$build/gemm_bench" --threads "$threads" \
      --reps 5 --min-time 0.2 2048x2048x2048:2048:2048:2048 2> /dev/null \
      | sed 's/^{/{"case": "sgemm_peak", /' >> "$out"
  done
}

stamp_machine() {
  sed -i "s|^{|{\"machine\": $MACHINE, \"cpu\": \"$CPU\", |" "$1"
}
