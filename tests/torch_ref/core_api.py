"""Reference values for tests/test_core_api.cpp: int64 arithmetic and comparisons, where and
masked_fill, full max/min (ties share the gradient), argmax/argmin (ties: the first index),
functional layer_norm and Python-style indexing. Each differentiable case emits its inputs, the
output, the upstream gradient `gout` and the gradients of loss = (output * gout).sum()."""
import torch
import torch.nn.functional as F

from common import emit

torch.manual_seed(0)


def run(prefix, function, *inputs):
    out = function(*inputs)
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    for k, x in enumerate(inputs):
        emit(f"{prefix}.in{k}", x)
        emit(f"{prefix}.in{k}.grad", x.grad)
    emit(f"{prefix}.output", out)
    emit(f"{prefix}.gout", gout)


# int64 with int64 stays int64 (true division gives floats); with a float it becomes the float
a = torch.tensor([[7, -3, 4], [0, 5, -8]])
b = torch.tensor([2, 2, -3])
for name, value in (("add", a + b), ("sub", a - b), ("mul", a * b), ("div", a / b), ("lt", a < b),
                    ("gt", a > b), ("eq", a == b), ("minus_one", a - 1), ("half", a * 0.5),
                    ("masked_fill", a.masked_fill(a > 0, 9)), ("where", torch.where(a > b, a, b))):
    emit(f"int.{name}", value)

# float operands with an int64 one, and where / masked_fill with int64 masks
scale = torch.tensor([1, -2, 3])
run("mixed", lambda x: x * scale + scale - x / scale, torch.randn(2, 3, requires_grad=True))
run("where", lambda x, y: torch.where(scale > 0, x, y), torch.randn(2, 3, requires_grad=True),
    torch.randn(2, 1, requires_grad=True))
run("masked_fill", lambda x: x.masked_fill(scale < 0, -7.0), torch.randn(4, 3, requires_grad=True))

# full max / min with ties: PyTorch shares the gradient evenly among the tied entries
ties = torch.tensor([[1.0, 3.0, 3.0], [-2.0, 3.0, -2.0]])
run("max_all", torch.max, ties.clone().requires_grad_())
run("min_all", torch.min, ties.clone().requires_grad_())
emit("argmax_all", ties.argmax())
emit("argmin_all", ties.argmin())
emit("argmax_axis1", ties.argmax(1))
emit("argmin_axis0", ties.argmin(0))

# functional layer_norm over two trailing axes with weight and bias, and over one without
run("layer_norm", lambda x, w, b: F.layer_norm(x, [3, 4], w, b, 1e-5),
    torch.randn(2, 3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True),
    torch.randn(3, 4, requires_grad=True))
run("layer_norm_plain", lambda x: F.layer_norm(x, [4]), torch.randn(5, 4, requires_grad=True))

# Python indexing
run("index1", lambda x: x[1:3, 0], torch.randn(4, 3, 5, requires_grad=True))
run("index2", lambda x: x[..., ::2], torch.randn(4, 3, 5, requires_grad=True))
run("index3", lambda x: x[-1, ..., -3:], torch.randn(4, 3, 5, requires_grad=True))
