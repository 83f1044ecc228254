"""What the JSON lines of every bench script share (bench/machine.sh writes them): the machine they
were measured on and the same run's SGEMM peak, read here once for every summarize_*.py."""
import collections
import json
import statistics


def read(path):
    """The lines of a result file, and the same-run SGEMM peak lines apart from the others."""
    rows = [json.loads(line) for line in open(path)]
    return ([row for row in rows if row.get("case") != "sgemm_peak"],
            [row for row in rows if row.get("case") == "sgemm_peak"])


def sgemm_peaks(peak_rows):
    """Median GFLOP/s of the C OpenBLAS 2048^3 SGEMM per thread count."""
    runs = collections.defaultdict(list)
    for row in peak_rows:
        runs[row["threads"]].append(row["gflops_median"])
    return {threads: statistics.median(values) for threads, values in runs.items()}


def heading(rows, peak_rows):
    """One line naming the CPU, the OpenBLAS core and the peak: no table is read without it."""
    machine = next((row["machine"] for row in rows + peak_rows if "machine" in row), None)
    if machine is None:
        text = "Machine: not recorded (result files before 2026-12-03 lack it)"
    else:
        flags = " ".join(flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni") if machine.get(flag)) or "no avx2"
        text = (f"Machine: {machine['vendor']} family {machine['family']} model {machine['model']} "
                f"({machine['name']}), {flags}; OpenBLAS {machine['openblas']} core {machine['openblas_core']}")
    peaks = sgemm_peaks(peak_rows)
    if peaks:
        text += ("; SGEMM peak of this run (C OpenBLAS 2048^3, median): " +
                 ", ".join(f"{peaks[t]:.1f} GFLOP/s at {t} thread{'s' if t > 1 else ''}" for t in sorted(peaks)))
    return text
