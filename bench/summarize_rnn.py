"""JSON lines from run_rnn.sh -> markdown: medians across rounds; ratio = loom_ms / torch_ms."""
import collections
import statistics
import sys

import bench_lines


def main(path):
    ms = collections.defaultdict(list)
    gflops = collections.defaultdict(list)
    rows, peak_rows = bench_lines.read(path)
    print(bench_lines.heading(rows, peak_rows) + "\n")
    peaks = bench_lines.sgemm_peaks(peak_rows)
    for row in rows:
        key = (row["layer"], row["hidden"], row["mode"], row["threads"])
        ms[key].append(row["ms"])
        gflops[key].append(row["gflops"])
    print("| layer | H | mode | threads | loom fused ms | loom composed ms | torch ms | fused/torch | "
          "composed/torch | fused GFLOP/s | fused share of SGEMM peak | torch GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cell in ("lstm", "gru"):
        for hidden in (128, 512):
            for mode in ("train", "infer"):
                for threads in (1, 2):
                    get = lambda name: statistics.median(ms[(name, hidden, mode, threads)]) if ms[(name, hidden, mode, threads)] else None
                    fused, composed, torch = get(f"{cell}_fused"), get(f"{cell}_composed"), get(cell)
                    if fused is None or torch is None:
                        continue
                    rate = lambda name: statistics.median(gflops[(name, hidden, mode, threads)])
                    share = f"{100 * rate(f'{cell}_fused') / peaks[threads]:.0f}%" if threads in peaks else "-"
                    print(f"| {cell} | {hidden} | {mode} | {threads} | {fused:.2f} | {composed:.2f} | {torch:.2f} | "
                          f"{fused / torch:.2f} | {composed / torch:.2f} | {rate(f'{cell}_fused'):.0f} | {share} | {rate(cell):.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
