"""The same cases as bench_core.cpp, in PyTorch and numpy; one JSON line per case.

    /usr/bin/python3 bench/bench_core.py --threads 2
Thread counts follow ../shared/anchors/README.md: OpenBLAS reads OPENBLAS_NUM_THREADS at load
time, so run_core.sh sets it (and OMP_NUM_THREADS) in the environment of this process.
"""
import argparse
import json
import time

import numpy as np
import torch


def median_ms(run):
    for _ in range(3):
        run()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            run()
        if time.perf_counter() - start >= 0.1:
            break
        calls *= 2
    per_call = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        per_call.append((time.perf_counter() - start) * 1e3 / calls)
    return sorted(per_call)[len(per_call) // 2]


def report(impl, op, shape, threads, ms, flops=0.0):
    print(json.dumps({"impl": impl, "op": op, "shape": shape, "threads": threads,
                      "ms": round(ms, 5), "gflops": round(flops / ms / 1e6, 2) if flops else 0.0}),
          flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.no_grad():
        for m, n, k in [(128, 128, 128), (512, 512, 512), (1024, 1024, 1024), (64, 2048, 512),
                        (32, 2048, 512), (2048, 2048, 64)]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            out = torch.empty(m, n)
            shape = f"{m}x{n}x{k}"
            # torch.matmul allocating its output, as Loom's does
            report("torch", "matmul", shape, threads, median_ms(lambda: torch.matmul(a, b)), 2.0 * m * n * k)
            an, bn = a.numpy(), b.numpy()
            report("numpy", "matmul", shape, threads, median_ms(lambda: an @ bn), 2.0 * m * n * k)
        for shape in [(64, 5000), (32, 512)]:
            a, b = torch.randn(*shape), torch.randn(*shape)
            name = "(" + ", ".join(map(str, shape)) + ")"
            report("torch", "elementwise_chain", name, threads,
                   median_ms(lambda: torch.sigmoid(a) * torch.tanh(b) + a * b))
        activations, bias = torch.randn(32, 64, 512), torch.randn(512)
        report("torch", "broadcast_add", "(32, 64, 512) + (512,)", threads, median_ms(lambda: activations + bias))
        narrow, narrow_bias = torch.randn(16384, 16), torch.randn(16)
        report("torch", "broadcast_add_narrow", "(16384, 16) + (16,)", threads,
               median_ms(lambda: narrow + narrow_bias))
        scores, row_max = torch.randn(64, 5000), torch.randn(64, 1)
        report("torch", "broadcast_sub_rows", "(64, 5000) - (64, 1)", threads, median_ms(lambda: scores - row_max))
        mask = torch.randn(64, 5000) > 0
        negated = -scores
        report("torch", "where", "(64, 5000)", threads, median_ms(lambda: torch.where(mask, scores, negated)))
        rows, gamma = torch.randn(4096, 512), torch.randn(512)
        report("torch", "sum_columns", "(4096, 512) over axis 0", threads, median_ms(lambda: rows.sum(0)))
        report("torch", "sum_rows", "(4096, 512) over axis 1", threads, median_ms(lambda: rows.sum(1)))
        report("torch", "layer_norm", "(4096, 512)", threads,
               median_ms(lambda: torch.nn.functional.layer_norm(rows, (512,), gamma, bias)))
        square = torch.randn(1024, 1024)
        report("torch", "transpose_contiguous", "(1024, 1024)", threads, median_ms(lambda: square.t().contiguous()))
        queries, keys_t = torch.randn(32, 64, 256), torch.randn(32, 256, 64)
        report("torch", "bmm", "(32, 64, 256) @ (32, 256, 64)", threads,
               median_ms(lambda: torch.matmul(queries, keys_t)), 2.0 * 32 * 64 * 64 * 256)
        x = torch.randn(64, 5000)
        report("torch", "softmax", "(64, 5000)", threads, median_ms(lambda: torch.softmax(x, 1)))
    logits = torch.randn(64, 5000, requires_grad=True)
    targets = torch.randint(0, 5000, (64,))

    def ce_step():
        torch.nn.functional.cross_entropy(logits, targets).backward()
        logits.grad = None

    report("torch", "cross_entropy_fwd_bwd", "(64, 5000)", threads, median_ms(ce_step))

    # torch.optim's defaults on CPU (the per-tensor loops; foreach is a CUDA default in 1.13)
    optimizers = {"sgd": lambda p: torch.optim.SGD(p, lr=1e-6),
                  "sgd_momentum": lambda p: torch.optim.SGD(p, lr=1e-6, momentum=0.9),
                  "adam": lambda p: torch.optim.Adam(p, lr=1e-6),
                  "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-6),
                  "adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-6)}
    for name, make in optimizers.items():
        weight = torch.randn(4 << 20, requires_grad=True)
        weight.grad = torch.randn(4 << 20)
        optimizer = make([weight])
        report("torch", "step_" + name, "(4194304,)", threads, median_ms(optimizer.step))


if __name__ == "__main__":
    main()
