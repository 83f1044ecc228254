"""torch.autograd.grad and retain_graph on the small function tests/test_autograd.cpp builds:
y = tanh(x @ w) * x[:, :1] (broadcast), loss = (y * y).sum() + y.mean()."""
import torch

from common import emit

x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)  # (2, 3)
w = torch.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], requires_grad=True)  # (3, 2)
y = torch.tanh(x @ w) * x[:, :1]  # (2, 2)
loss = (y * y).sum() + y.mean()
dx, dw = torch.autograd.grad([loss], [x, w], retain_graph=True)
emit("dx", dx)
emit("dw", dw)
# a second pass through the retained graph, weighting y by v
v = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
(dy_x,) = torch.autograd.grad([y], [x], grad_outputs=[v])
emit("dy_x", dy_x)
