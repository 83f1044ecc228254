"""PyTorch reference for Loom's RNN/LSTM/GRU: identical weights and inputs, outputs, final
states and every gradient, in float64.

    /usr/bin/python3 recurrent.py --cell lstm --layers 2 --bidirectional --lengths 5,3,1
The loss is sum(output * r_out) + sum(h_n * r_h) (+ sum(c_n * r_c)) with random r_*, emitted too.
"""
import argparse

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from common import emit, emit_module

parser = argparse.ArgumentParser()
parser.add_argument("--cell", choices=["rnn_tanh", "rnn_relu", "lstm", "gru"], required=True)
parser.add_argument("--layers", type=int, default=1)
parser.add_argument("--bidirectional", action="store_true")
parser.add_argument("--lengths", default="")
parser.add_argument("--input-size", type=int, default=3)
parser.add_argument("--hidden-size", type=int, default=4)
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--no-bias", action="store_true")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
lengths = [int(v) for v in args.lengths.split(",")] if args.lengths else [args.steps, args.steps - 1]
batch, directions = len(lengths), 2 if args.bidirectional else 1
common = dict(input_size=args.input_size, hidden_size=args.hidden_size, num_layers=args.layers,
              bias=not args.no_bias, batch_first=True, bidirectional=args.bidirectional)
if args.cell.startswith("rnn"):
    module = torch.nn.RNN(nonlinearity=args.cell[4:], **common)
elif args.cell == "lstm":
    module = torch.nn.LSTM(**common)
else:
    module = torch.nn.GRU(**common)

x = torch.randn(batch, args.steps, args.input_size, requires_grad=True)
h0 = torch.randn(args.layers * directions, batch, args.hidden_size, requires_grad=True)
c0 = torch.randn(args.layers * directions, batch, args.hidden_size, requires_grad=True)
packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
state = (h0, c0) if args.cell == "lstm" else h0
out_packed, final = module(packed, state)
output, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=args.steps)
h_n, c_n = final if args.cell == "lstm" else (final, None)

r_out = torch.randn_like(output)
r_h = torch.randn_like(h_n)
loss = (output * r_out).sum() + (h_n * r_h).sum()
if c_n is not None:
    r_c = torch.randn_like(c_n)
    loss = loss + (c_n * r_c).sum()
loss.backward()

emit_module("", module)
for name, tensor in [("x", x), ("h0", h0), ("output", output), ("h_n", h_n), ("r_out", r_out),
                     ("r_h", r_h), ("x.grad", x.grad), ("h0.grad", h0.grad)]:
    emit(name, tensor)
emit("lengths", torch.tensor(lengths, dtype=torch.float64))
if c_n is not None:
    for name, tensor in [("c0", c0), ("c_n", c_n), ("r_c", r_c), ("c0.grad", c0.grad)]:
        emit(name, tensor)
