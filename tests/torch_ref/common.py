"""Shared by the PyTorch reference scripts: print named float64 tensors in the text format
tests/torch_reference.h reads. One tensor per line:

    name ndim d0 d1 ... v0 v1 ...      (values in full precision, row-major)
"""
import sys

import torch

torch.set_default_dtype(torch.float64)


def emit(name, tensor):
    t = tensor.detach().to(torch.float64).contiguous().reshape(-1)
    dims = list(tensor.shape)
    values = " ".join(repr(float(v)) for v in t.tolist())
    sys.stdout.write(f"{name} {len(dims)} {' '.join(map(str, dims))} {values}\n".replace("  ", " "))


def emit_module(prefix, module):
    """Every parameter and its gradient, PyTorch names: prefix.weight, prefix.weight.grad."""
    for name, p in module.named_parameters():
        emit(f"{prefix}{name}", p)
        if p.grad is not None:
            emit(f"{prefix}{name}.grad", p.grad)
