#!/usr/bin/env python3
"""Compares two run folders bit for bit: best.safetensors byte for byte, last.safetensors tensor by
tensor (data and header) with its trainer state, the SentencePiece models (*.model) of a subword
translate run byte for byte, and metrics.jsonl; the wall-clock "seconds" of
each epoch, which no rerun repeats, is the one value left out. Exit 0 when they match; otherwise
one line per difference (a tensor's largest absolute difference, or the first differing line)
and exit 1.

    compare_runs.py RUN_A RUN_B
"""
import array
import json
import pathlib
import struct
import sys

ARRAY_TYPES = {"F32": "f", "F64": "d", "I64": "q"}  # little-endian, as on every machine Loom runs on


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_size])
    metadata = header.pop("__metadata__", {})
    body = data[8 + header_size:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], tuple(entry["shape"]), body[begin:end])
    return tensors, metadata


def without_seconds(record):
    record = dict(record)
    record["values"] = {k: v for k, v in record["values"].items() if k != "seconds"}
    return record


def trainer_state(metadata):
    state = json.loads(metadata.get("loom_trainer_state", "{}"))
    state["history"] = [without_seconds(entry) for entry in state.get("history", [])]
    return state


def compare_tensors(label, a, b, problems):
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{label}: tensor {name} is in only one run")
            continue
        (dtype_a, shape_a, bytes_a), (dtype_b, shape_b, bytes_b) = a[name], b[name]
        if (dtype_a, shape_a) != (dtype_b, shape_b):
            problems.append(f"{label}: {name} is {dtype_a}{shape_a} against {dtype_b}{shape_b}")
        elif bytes_a != bytes_b:
            x = array.array(ARRAY_TYPES[dtype_a], bytes_a)
            y = array.array(ARRAY_TYPES[dtype_b], bytes_b)
            differences = [abs(u - v) for u, v in zip(x, y) if u != v]
            problems.append(f"{label}: {name} differs in {len(differences)} of {len(x)} values, "
                            f"by up to {max(differences):.3g}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run_a, run_b = sys.argv[1:]
    problems = []
    with open(f"{run_a}/best.safetensors", "rb") as fa, open(f"{run_b}/best.safetensors", "rb") as fb:
        if fa.read() != fb.read():
            compare_tensors("best.safetensors", read_safetensors(fa.name)[0], read_safetensors(fb.name)[0], problems)
            problems.append("best.safetensors: the bytes differ")
    tensors_a, metadata_a = read_safetensors(f"{run_a}/last.safetensors")
    tensors_b, metadata_b = read_safetensors(f"{run_b}/last.safetensors")
    compare_tensors("last.safetensors", tensors_a, tensors_b, problems)
    if trainer_state(metadata_a) != trainer_state(metadata_b):
        problems.append("last.safetensors: the trainer states differ")
    models = sorted({path.name for run in (run_a, run_b) for path in pathlib.Path(run).glob("*.model")})
    for name in models:
        paths = [pathlib.Path(run) / name for run in (run_a, run_b)]
        if not all(path.exists() for path in paths):
            problems.append(f"{name} is in only one run")
        elif paths[0].read_bytes() != paths[1].read_bytes():
            problems.append(f"{name}: the bytes differ")
    lines_a = [without_seconds(json.loads(line)) for line in open(f"{run_a}/metrics.jsonl")]
    lines_b = [without_seconds(json.loads(line)) for line in open(f"{run_b}/metrics.jsonl")]
    if lines_a != lines_b:
        first = next((i for i, (x, y) in enumerate(zip(lines_a, lines_b)) if x != y), min(len(lines_a), len(lines_b)))
        shown_a = lines_a[first] if first < len(lines_a) else "(none)"
        shown_b = lines_b[first] if first < len(lines_b) else "(none)"
        problems.append(f"metrics.jsonl: line {first + 1} is {shown_a} against {shown_b}")
    for problem in problems:
        print(f"{run_a} vs {run_b}: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
