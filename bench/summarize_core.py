"""JSON lines from run_core.sh -> a markdown table: medians across rounds, Loom against PyTorch
(ratio = loom_ms / torch_ms, below 1 is faster) and, for matmul, against the OpenBLAS anchor."""
import collections
import pathlib
import re
import statistics
import sys

import bench_lines

ANCHOR = pathlib.Path(__file__).resolve().parent.parent.parent / "shared/anchors/results/gemm-2026-11-27.md"


def anchor_gflops():
    """(M, N, K, threads) -> median GFLOP/s of C cblas_sgemm in the anchor table."""
    table = {}
    if not ANCHOR.exists():
        return table
    for line in ANCHOR.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 5 and cells[0] == "c_cblas_sgemm":
            match = re.match(r"(\d+)x(\d+)x(\d+)", cells[3])
            if match:
                table[(*map(int, match.groups()), int(cells[1]))] = float(cells[4])
    return table


def main(path):
    runs = collections.defaultdict(list)
    gflops = collections.defaultdict(list)
    rows, peak_rows = bench_lines.read(path)
    print(bench_lines.heading(rows, peak_rows) + "\n")
    for row in rows + peak_rows:
        if row["impl"] == "c_cblas_sgemm":  # ../shared/anchors/gemm_bench.c, same run
            row = {"impl": "openblas", "op": "matmul", "shape": row["shape"], "threads": row["threads"],
                   "ms": row["us_per_call_median"] / 1e3, "gflops": row["gflops_median"]}
        key = (row["op"], row["shape"], row["threads"])
        runs[key + (row["impl"],)].append(row["ms"])
        gflops[key + (row["impl"],)].append(row["gflops"])
    anchors = anchor_gflops()
    print("| op | shape | threads | loom ms | torch ms | numpy ms | loom/torch | loom GFLOP/s | "
          "C OpenBLAS GFLOP/s (same run) | loom/C | OpenBLAS anchor GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({k[:3] for k in runs}, key=lambda k: (k[0], k[2], k[1]))
    for op, shape, threads in keys:
        med = {impl: statistics.median(runs[(op, shape, threads, impl)])
               for impl in ("loom", "torch", "numpy", "openblas") if (op, shape, threads, impl) in runs}
        fmt = lambda impl: f"{med[impl]:.4f}" if impl in med else "-"
        ratio = f"{med['loom'] / med['torch']:.2f}" if "loom" in med and "torch" in med else "-"
        loom_gflops = statistics.median(gflops[(op, shape, threads, "loom")]) if "loom" in med else 0
        anchor = "-"
        match = re.match(r"(\d+)x(\d+)x(\d+)", shape)
        if match:
            value = anchors.get((*map(int, match.groups()), threads))
            anchor = f"{value:.1f}" if value else "-"
        c_gflops = statistics.median(gflops[(op, shape, threads, "openblas")]) if "openblas" in med else 0
        c_cells = f"{c_gflops:.1f} | {loom_gflops / c_gflops:.2f}" if c_gflops else "- | -"
        print(f"| {op} | {shape} | {threads} | {fmt('loom')} | {fmt('torch')} | {fmt('numpy')} | {ratio} | "
              f"{loom_gflops:.1f} | {c_cells} | {anchor} |" if op in ("matmul", "bmm") else
              f"| {op} | {shape} | {threads} | {fmt('loom')} | {fmt('torch')} | - | {ratio} | - | - | - | - |")


if __name__ == "__main__":
    main(sys.argv[1])
