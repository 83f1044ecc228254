"""Reference values for tests/test_layers_basic.cpp: torch.nn.Linear (with and without bias),
Embedding (padding_idx; max_norm) and LayerNorm (1 and 2 trailing axes), built with a fixed
seed. Emits each module's weights, the input, the output, the upstream gradient `gout` and
every gradient of loss = (output * gout).sum()."""
import torch

from common import emit, emit_module

torch.manual_seed(0)


def run(prefix, module, x, integer_input=False):
    out = module(x)
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    emit(f"{prefix}.input", x)
    emit(f"{prefix}.output", out)
    emit(f"{prefix}.gout", gout)
    if not integer_input:
        emit(f"{prefix}.input.grad", x.grad)
    emit_module(f"{prefix}.", module)


run("linear", torch.nn.Linear(5, 3), torch.randn(4, 2, 5, requires_grad=True))
run("linear_nobias", torch.nn.Linear(5, 3, bias=False), torch.randn(4, 5, requires_grad=True))

# Row 2 is padding: zero at initialisation, looked up twice, and its gradient stays zero.
run("embedding", torch.nn.Embedding(7, 4, padding_idx=2),
    torch.tensor([[0, 2, 5], [2, 6, 0]]), integer_input=True)

# max_norm rescales the looked-up rows in place before the lookup.
renorm = torch.nn.Embedding(6, 3, max_norm=1.5)
emit("renorm.weight_before", renorm.weight)
renorm_ids = torch.tensor([1, 3, 3, 4])
renorm_out = renorm(renorm_ids)
emit("renorm.input", renorm_ids)
emit("renorm.output", renorm_out)
emit("renorm.weight_after", renorm.weight)

for name, shape in (("layer_norm1", [5]), ("layer_norm2", [4, 5])):
    norm = torch.nn.LayerNorm(shape)
    with torch.no_grad():  # non-trivial affine parameters, so their use is checked too
        norm.weight.normal_()
        norm.bias.normal_()
    run(name, norm, torch.randn(3, 4, 5, requires_grad=True))
