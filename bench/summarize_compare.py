"""JSON lines of compare.sh -> one JSON line per workload (medians over the rounds), the markdown
table with the issue's targets, and the T sweep table.

    /usr/bin/python3 bench/summarize_compare.py bench/results/compare-DATE.jsonl
"""
import collections
import json
import statistics
import sys

import bench_lines

# Issue 7's targets: the largest acceptable loom_ms / torch_ms at 2 threads.
TARGET_RATIO = {"charlm_h512_train": 0.55, "charlm_h128_train": 0.4, "classifier_train": 0.67,
                "seq2seq_train": 0.67, "seq2seq_dot_train": 0.67, "caption_train": 0.67,
                "charlm_h512_infer": 0.6, "charlm_h128_infer": 0.6}
# Issue 23's targets: the least share of the same run's SGEMM peak (at the same thread count) that
# a workload's GEMM work must reach; the H=128 products are small.
TARGET_PEAK_SHARE = {"charlm_h128_train": 0.70}
TRAIN_PEAK_SHARE, INFER_PEAK_SHARE = 0.85, 0.80
# Peak RSS of the libtorch C++ char-LM (../shared/anchors, charlm_libtorch, 2 threads): Loom's
# target is at most half of it.
LIBTORCH_RSS_MB = {"charlm_h512_train": 333, "charlm_h512_infer": 220, "charlm_h128_train": 206,
                   "charlm_h128_infer": 173}


def medians(rows):
    runs = collections.defaultdict(list)
    for row in rows:
        runs[(row["case"], row["threads"], row["impl"])].append(row)
    out = {}
    for (case, threads, impl), case_rows in runs.items():
        out[(case, threads, impl)] = {
            key: statistics.median(r[key] for r in case_rows)
            for key in ("ms_step_median", "peak_rss_mb", "achieved_gflops_est", "load1")}
    return out


def peak_share_cell(workload, gflops, peak):
    """Share of the same run's peak, and issue 23's verdict on it."""
    if not peak:
        return "-"
    target = TARGET_PEAK_SHARE.get(workload, INFER_PEAK_SHARE if "infer" in workload else TRAIN_PEAK_SHARE)
    share = gflops / peak
    return f"{100 * share:.1f}% (≥ {100 * target:.0f}% {'met' if share >= target else 'MISSED'})"


def main(path):
    lines, peak_lines = bench_lines.read(path)
    print(bench_lines.heading(lines, peak_lines) + "\n")
    peaks = bench_lines.sgemm_peaks(peak_lines)
    m = medians(lines)
    rows = []
    for case, threads in sorted({(c, t) for c, t, _ in m}, key=lambda k: ("_T" in k[0], k[0], -k[1])):
        loom, torch = m.get((case, threads, "loom")), m.get((case, threads, "torch"))
        if not loom or not torch:
            continue
        row = {"workload": case, "threads": threads, "loom_ms": round(loom["ms_step_median"], 2),
               "torch_ms": round(torch["ms_step_median"], 2),
               "ratio": round(loom["ms_step_median"] / torch["ms_step_median"], 3),
               "loom_rss_mb": round(loom["peak_rss_mb"], 1), "torch_rss_mb": round(torch["peak_rss_mb"], 1),
               "gflops": round(loom["achieved_gflops_est"], 1)}
        rows.append((row, loom, torch))
        print(json.dumps(row))

    print("\n| workload | threads | loom ms | torch ms | ratio | target | loom GFLOP/s | torch GFLOP/s "
          "| loom share of SGEMM peak | loom RSS MB | torch RSS MB | libtorch C++ RSS MB (anchors) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row, loom, torch in rows:
        if "_T" in row["workload"]:
            continue
        target = TARGET_RATIO.get(row["workload"]) if row["threads"] == 2 else None
        verdict = "-" if target is None else f"≤ {target} {'met' if row['ratio'] <= target else 'MISSED'}"
        libtorch = LIBTORCH_RSS_MB.get(row["workload"], "-")
        print(f"| {row['workload']} | {row['threads']} | {row['loom_ms']:.2f} | {row['torch_ms']:.2f} | "
              f"{row['ratio']:.2f} | {verdict} | {row['gflops']:.0f} | {torch['achieved_gflops_est']:.0f} | "
              f"{peak_share_cell(row['workload'], row['gflops'], peaks.get(row['threads']))} | {row['loom_rss_mb']:.0f} | {row['torch_rss_mb']:.0f} | {libtorch} | {loom['load1']:.1f} |")

    if peaks:
        h512 = m.get(("charlm_h512_train", 2, "loom"))
        if h512 and 2 in peaks:
            share = h512["achieved_gflops_est"] / peaks[2]
            print(f"(a) H=512 training at 2 threads: {h512['achieved_gflops_est']:.1f} GFLOP/s of GEMM work = "
                  f"{100 * share:.0f}% of that peak (target: 150 GFLOP/s, 75% of the anchors' 200; "
                  f"{'met' if share >= 0.75 else 'MISSED'} as a share of this run's peak, "
                  f"{'met' if h512['achieved_gflops_est'] >= 150 else 'MISSED'} in absolute terms)")

    one, two = m.get(("charlm_h512_train", 1, "loom")), m.get(("charlm_h512_train", 2, "loom"))
    if one and two:
        print(f"\n(a) H=512 training, Loom 1 -> 2 threads: {one['ms_step_median']:.1f} -> "
              f"{two['ms_step_median']:.1f} ms, speed-up {one['ms_step_median'] / two['ms_step_median']:.2f}x "
              f"(target ≥ 1.7x)")

    sweep = [(row, loom, torch) for row, loom, torch in rows if "_T" in row["workload"]]
    if sweep:
        sweep.sort(key=lambda r: int(r[0]["workload"].split("_T")[1].split("_")[0]))
        base_row = sweep[0][0]
        base_t = int(base_row["workload"].split("_T")[1].split("_")[0])
        print("\n(a) H=512 training step against sequence length T (2 threads): linear growth keeps "
              "ms/T and the RSS increase per step flat.\n")
        print("| T | loom ms | loom ms per step of T | torch ms | ratio | loom RSS MB | loom RSS MB above T="
              f"{base_t} | torch RSS MB |")
        print("|---|---|---|---|---|---|---|---|")
        for row, loom, torch in sweep:
            t = int(row["workload"].split("_T")[1].split("_")[0])
            print(f"| {t} | {row['loom_ms']:.1f} | {row['loom_ms'] / t:.3f} | {row['torch_ms']:.1f} | "
                  f"{row['ratio']:.2f} | {row['loom_rss_mb']:.0f} | "
                  f"{row['loom_rss_mb'] - base_row['loom_rss_mb']:.0f} | {row['torch_rss_mb']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
