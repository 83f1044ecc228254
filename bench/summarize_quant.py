"""JSON lines from run_quant.sh -> markdown: medians across rounds; speed-up = float ms / int8 ms."""
import collections
import statistics
import sys

import bench_lines


def main(path):
    ms = collections.defaultdict(list)
    diffs = collections.defaultdict(list)
    rows, peak_rows = bench_lines.read(path)
    print(bench_lines.heading(rows, peak_rows) + "\n")
    for row in rows:
        key = (row["impl"], row["workload"], row["precision"], row["threads"])
        ms[key].append(row["ms"])
        diffs[key].append(row["max_rel_diff"])
    print("| workload (H=512) | threads | loom float32 ms | loom int8 ms | loom speed-up | loom int8 error | "
          "torch float32 ms | torch int8 ms | torch speed-up | torch int8 error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workload in ("charlm", "g2p_decoder"):
        for threads in (1, 2):
            get = lambda impl, precision: statistics.median(ms[(impl, workload, precision, threads)])
            error = lambda impl: f"{100 * statistics.median(diffs[(impl, workload, 'int8', threads)]):.2f}%"
            if not ms[("loom", workload, "int8", threads)] or not ms[("torch", workload, "int8", threads)]:
                continue
            cells = []
            for impl in ("loom", "torch"):
                fp, q = get(impl, "float32"), get(impl, "int8")
                cells += [f"{fp:.2f}", f"{q:.2f}", f"{fp / q:.2f}x", error(impl)]
            print(f"| {workload} | {threads} | " + " | ".join(cells) + " |")
    print("\nint8 error: max |int8 - float| / max |float| over the logits (g2p: the first step's).")


if __name__ == "__main__":
    main(sys.argv[1])
