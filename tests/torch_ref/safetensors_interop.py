"""safetensors interop with PyTorch using only json, struct and torch (no safetensors package).

    /usr/bin/python3 safetensors_interop.py write DIR   # torch LSTM state -> DIR/torch.safetensors,
                                                        # plus the input and torch's output
    /usr/bin/python3 safetensors_interop.py read FILE   # Loom's file -> torch LSTM -> output
Both print named tensors (common.py format).
"""
import json
import struct
import sys

import torch

from common import emit

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
FROM_NAME = {v: k for k, v in DTYPES.items()}


def write(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=FROM_NAME[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors, header.get("__metadata__", {})


torch.manual_seed(0)
torch.set_default_dtype(torch.float32)  # checkpoints in the usual float32
lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
if sys.argv[1] == "write":
    x = torch.randn(2, 5, 3)
    write(sys.argv[2] + "/torch.safetensors", dict(lstm.state_dict()), {"written_by": "torch"})
    emit("x", x)
    emit("output", lstm(x)[0])
else:
    tensors, metadata = read(sys.argv[2])
    x = tensors.pop("input")
    lstm.load_state_dict(tensors, strict=True)
    emit("output", lstm(x)[0])
    emit("metadata_ok", torch.tensor([1.0 if metadata.get("written_by") == "loom" else 0.0]))
