"""oneDNN's LSTM and linear-before-reset GRU (build/onednn_rnn --check) against torch.nn.LSTM/GRU:
the same weights and input (T=64, B=32, E=64, zero initial state), loss = output.sum(); compares
the output, dx, dW_ih, dW_hh and the biases' gradients. Exits 1 on a mismatch.

    /usr/bin/python3 bench/onednn_check.py --binary build/onednn_rnn --cell gru --hidden 32
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

T, B, E = 64, 32, 64  # onednn_rnn's shapes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="build/onednn_rnn")
    parser.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args()
    H = args.hidden
    torch.manual_seed(0)
    layer = (torch.nn.GRU if args.cell == "gru" else torch.nn.LSTM)(E, H)
    x = torch.randn(T, B, E, requires_grad=True)
    output, _ = layer(x)
    output.sum().backward()
    w_ih, w_hh, b_ih, b_hh = layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0

    # oneDNN's GRU gates are [u, r, o] = torch's [z, r, n]; its lbr bias is [b_z, b_r, b_in, b_hn]
    # with b_z, b_r the sums of both sides. Its LSTM's [i, f, c, o] is torch's [i, f, g, o].
    def to_onednn(w):
        if args.cell == "lstm":
            return w
        r, z, n = w.split(H)
        return torch.cat([z, r, n])

    def from_onednn(w):
        return to_onednn(w)  # the swap is its own inverse

    if args.cell == "gru":
        bias = torch.cat([(b_ih + b_hh)[:2 * H], b_ih[2 * H:], b_hh[2 * H:]])
        bias = torch.cat([bias[H:2 * H], bias[:H], bias[2 * H:]])
    else:
        bias = b_ih + b_hh
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        def save(name, tensor):
            tensor.detach().numpy().astype(np.float32).tofile(os.path.join(folder, name))

        def load(name, shape):
            return torch.from_numpy(np.fromfile(os.path.join(folder, name), dtype=np.float32).reshape(shape))

        save("x.bin", x)
        save("w_ih.bin", to_onednn(w_ih))
        save("w_hh.bin", to_onednn(w_hh))
        save("bias.bin", bias)
        subprocess.run([args.binary, "--check", folder, "--cell", args.cell, "--hidden", str(H)], check=True)
        G = 3 if args.cell == "gru" else 4
        d_bias = load("dbias_onednn.bin", ((G + 1 if args.cell == "gru" else G) * H,))
        if args.cell == "gru":  # torch's b_ih.grad: [dr, dz, dn_input]; b_hh.grad: [dr, dz, dn_hidden]
            dz, dr, dn_input, dn_hidden = d_bias.split(H)
            d_b_ih, d_b_hh = torch.cat([dr, dz, dn_input]), torch.cat([dr, dz, dn_hidden])
        else:
            d_b_ih = d_b_hh = d_bias
        pairs = [("output", output, load("y_onednn.bin", (T, B, H))),
                 ("dx", x.grad, load("dx_onednn.bin", (T, B, E))),
                 ("dW_ih", w_ih.grad, from_onednn(load("dw_ih_onednn.bin", (G * H, E)))),
                 ("dW_hh", w_hh.grad, from_onednn(load("dw_hh_onednn.bin", (G * H, H)))),
                 ("db_ih", b_ih.grad, d_b_ih), ("db_hh", b_hh.grad, d_b_hh)]
        for name, reference, got in pairs:
            error = (reference.detach() - got).abs().max().item()
            scale = reference.detach().abs().max().item()
            good = error <= 1e-4 * max(1.0, scale)
            ok &= good
            print(f"{args.cell} H={H} {name:6s} max|diff| = {error:.2e} (max|torch| = {scale:.2e}) "
                  f"{'ok' if good else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
