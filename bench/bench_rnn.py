"""torch.nn.LSTM/GRU/RNN (tanh) on the same cases as bench_rnn.cpp; one JSON line per case.

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/bench_rnn.py --threads 2
"""
import argparse
import json
import time

import torch


def median_ms(run, reps):
    run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    batch, steps, inputs = 32, 64, 64
    modules = {"lstm": (torch.nn.LSTM, 4), "gru": (torch.nn.GRU, 3), "rnn": (torch.nn.RNN, 1)}
    for cell, (module, gates) in modules.items():
        for hidden in (128, 512):
            torch.manual_seed(0)
            layer = module(inputs, hidden, batch_first=True)
            x = torch.randn(batch, steps, inputs)
            forward_flops = 2.0 * steps * batch * gates * hidden * (inputs + hidden)

            def infer():
                with torch.no_grad():
                    layer(x)

            def train():
                layer.zero_grad(set_to_none=True)
                layer(x)[0].sum().backward()

            for mode, run, flops in (("infer", infer, forward_flops), ("train", train, 3 * forward_flops)):
                ms = median_ms(run, 15)
                print(json.dumps({"impl": "torch", "layer": cell, "hidden": hidden, "mode": mode,
                                  "threads": threads, "ms": round(ms, 3), "gflops": round(flops / ms / 1e6, 1)}),
                      flush=True)


if __name__ == "__main__":
    main()
