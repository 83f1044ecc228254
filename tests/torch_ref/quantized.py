"""Reference values for tests/test_quantized.cpp: float modules and the same modules after
torch.ao.quantization.quantize_dynamic (int8 weights, dynamically quantized activations), on
shapes that are not multiples of the kernels' blocks. Debian's torch 1.13 has no fbgemm; onednn
is its x86 engine (reduce_range, per-tensor activations, as fbgemm)."""
import torch
from torch.ao.quantization import quantize_dynamic

from common import emit, emit_module

torch.set_default_dtype(torch.float32)
torch.backends.quantized.engine = "onednn"
torch.manual_seed(23)

linear = torch.nn.Linear(37, 19)
lstm = torch.nn.LSTM(13, 24, num_layers=2, batch_first=True)
gru = torch.nn.GRU(13, 20, batch_first=True, bidirectional=True)
x_linear = torch.randn(5, 37)
x_seq = torch.randn(3, 6, 13)

for prefix, module in (("linear.", linear), ("lstm.", lstm), ("gru.", gru)):
    emit_module(prefix, module)
emit("x_linear", x_linear)
emit("x_seq", x_seq)
with torch.no_grad():
    emit("linear_float", linear(x_linear))
    emit("lstm_float", lstm(x_seq)[0])
    emit("gru_float", gru(x_seq)[0])
    spec = {torch.nn.Linear, torch.nn.LSTM, torch.nn.GRU}
    emit("linear_int8", quantize_dynamic(torch.nn.Sequential(linear), spec, dtype=torch.qint8)(x_linear))
    emit("lstm_int8", quantize_dynamic(torch.nn.Sequential(lstm), spec, dtype=torch.qint8)(x_seq)[0])
    emit("gru_int8", quantize_dynamic(torch.nn.Sequential(gru), spec, dtype=torch.qint8)(x_seq)[0])
