"""Reference values for the split/chunk/unbind test in tests/test_views.cpp. Each case emits its
input `CASE.in0`, the pieces `CASE.outK`, the upstream gradient `CASE.goutK` of the pieces the
loss uses (the others are left out: their gradient is none), and `CASE.in0.grad`, the gradient of
loss = sum over the used K of (outK * goutK).sum()."""
import torch

from common import emit

torch.manual_seed(0)


def run(prefix, cut, shape, used=None):
    x = torch.randn(*shape, requires_grad=True)
    pieces = cut(x)
    used = range(len(pieces)) if used is None else used
    loss = 0
    for k, piece in enumerate(pieces):
        emit(f"{prefix}.out{k}", piece)
        if k in used:
            gout = torch.randn_like(piece)
            emit(f"{prefix}.gout{k}", gout)
            loss = loss + (piece * gout).sum()
    loss.backward()
    emit(f"{prefix}.in0", x)
    emit(f"{prefix}.in0.grad", x.grad)


run("split_size", lambda x: torch.split(x, 2, 1), (3, 5, 2))                  # 2, 2, 1
run("split_sizes", lambda x: torch.split(x, [1, 0, 3], -1), (2, 4))           # an empty piece
run("chunk_uneven", lambda x: torch.chunk(x, 3, 0), (7, 2))                   # 3, 3, 1
run("chunk_fewer", lambda x: torch.chunk(x, 4, 1), (2, 6))                    # 2, 2, 2: three pieces
run("unbind", lambda x: torch.unbind(x, 1), (2, 3, 4))
run("unbind_some", lambda x: torch.unbind(x, 0), (4, 3), used=[1, 3])         # two pieces unused
run("split_some", lambda x: torch.split(x.t(), [2, 1, 2], 0), (3, 5), used=[2])  # of a view
