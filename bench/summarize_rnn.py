"""JSON lines from run_rnn.sh -> markdown: medians across rounds; ratios = loom fused ms / torch
ms and / oneDNN ms (oneDNN's rows exist for LSTM and GRU when run_rnn.sh found libdnnl-dev)."""
import collections
import statistics
import sys

import bench_lines

ONEDNN_TARGET = 0.9  # issue 23: Loom's fused layers at most 0.9x oneDNN's time on every row


def main(path):
    ms = collections.defaultdict(list)
    gflops = collections.defaultdict(list)
    rows, peak_rows = bench_lines.read(path)
    print(bench_lines.heading(rows, peak_rows) + "\n")
    peaks = bench_lines.sgemm_peaks(peak_rows)
    for row in rows:
        name = row["layer"] if row["impl"] == "loom" else f"{row['impl']}_{row['layer']}"
        key = (name, row["hidden"], row["mode"], row["threads"])
        ms[key].append(row["ms"])
        gflops[key].append(row["gflops"])

    def median(table, name, hidden, mode, threads):
        values = table[(name, hidden, mode, threads)]
        return statistics.median(values) if values else None

    print("| layer | H | mode | threads | loom fused ms | loom composed ms | torch ms | oneDNN ms | fused/torch | "
          "fused/oneDNN | fused GFLOP/s | fused share of SGEMM peak | torch GFLOP/s | oneDNN GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    misses = []
    for cell in ("lstm", "gru", "rnn"):
        for hidden in (128, 512):
            for mode in ("train", "infer"):
                for threads in (1, 2):
                    get = lambda name: median(ms, name, hidden, mode, threads)
                    rate = lambda name: median(gflops, name, hidden, mode, threads)
                    fused, composed, torch, onednn = (get(f"{cell}_fused"), get(f"{cell}_composed"),
                                                      get(f"torch_{cell}"), get(f"onednn_{cell}"))
                    if fused is None or torch is None:
                        continue
                    share = f"{100 * rate(f'{cell}_fused') / peaks[threads]:.0f}%" if threads in peaks else "-"
                    versus, onednn_ms, onednn_rate = "-", "-", "-"
                    if onednn is not None:
                        onednn_ms, onednn_rate = f"{onednn:.2f}", f"{rate(f'onednn_{cell}'):.0f}"
                        versus = f"{fused / onednn:.2f}"
                        if fused / onednn > ONEDNN_TARGET:
                            misses.append(f"{cell} H={hidden} {mode} {threads}t: {fused / onednn:.2f}")
                    print(f"| {cell} | {hidden} | {mode} | {threads} | {fused:.2f} | {composed:.2f} | {torch:.2f} | "
                          f"{onednn_ms} | {fused / torch:.2f} | {versus} | "
                          f"{rate(f'{cell}_fused'):.0f} | {share} | {rate(f'torch_{cell}'):.0f} | {onednn_rate} |")
    if any(key[0].startswith("onednn_") for key in ms):
        print(f"\nfused/oneDNN <= {ONEDNN_TARGET} on every row: " +
              ("yes" if not misses else f"no, {len(misses)} rows above it: " + "; ".join(misses)))


if __name__ == "__main__":
    main(sys.argv[1])
