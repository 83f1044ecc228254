#!/usr/bin/env python3
"""Table of bench_distributed runs (JSON lines): medians over rounds per configuration."""
import statistics
import sys
from collections import defaultdict

import bench_lines

runs = defaultdict(list)
rows, peak_rows = bench_lines.read(sys.argv[1])
print(bench_lines.heading(rows, peak_rows) + "\n")
for r in rows:
    runs[(r["layers"], r["ranks"], r["threads"], r["batch_per_rank"], r["overlap"])].append(r)


def med(rows, key):
    return statistics.median(r[key] for r in rows)


print("| LSTM layers | ranks x threads | batch per rank (global) | overlap | ms/step | samples/s | vs 1x1 | CPU ms/step per rank | comm wait ms | all-reduce alone ms | pack ms | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for (layers, ranks, threads, batch, overlap), rows in sorted(runs.items()):
    base = runs.get((layers, 1, 1, 32, False))
    rate = med(rows, "samples_per_s")
    ratio = f"{rate / med(base, 'samples_per_s'):.2f}x" if base else "-"
    comm = f"{med(rows, 'comm_wait_ms'):.2f}" if ranks > 1 else "-"
    alone = f"{med(rows, 'comm_alone_ms'):.2f}" if ranks > 1 else "-"
    pack = f"{med(rows, 'pack_ms'):.2f}" if ranks > 1 else "-"
    load = f"{min(r['loadavg1_start'] for r in rows):.1f}-{max(r['loadavg1_end'] for r in rows):.1f}"
    print(f"| {layers} | {ranks} x {threads} | {batch} ({batch * ranks}) | {'on' if overlap else ('off' if ranks > 1 else '-')} | "
          f"{med(rows, 'ms_step_median'):.1f} | {rate:.1f} | {ratio} | {med(rows, 'cpu_ms_step_median'):.1f} | {comm} | {alone} | {pack} | {load} |")
print(f"\n{len(next(iter(runs.values())))} rounds; medians over rounds of each run's median step.")
