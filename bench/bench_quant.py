"""PyTorch on bench_quant.cpp's two workloads, float32 and torch.ao.quantization.quantize_dynamic
(nn.Linear and nn.LSTM to int8; the embedding stays float, as torch's default spec leaves it).
Debian's torch 1.13 has no fbgemm: the onednn engine is its x86 one. One JSON line per case.

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/bench_quant.py --threads 2
"""
import argparse
import json

import torch
from torch.ao.quantization import quantize_dynamic

from bench_rnn import median_ms

HIDDEN, EMBEDDING, PHONES, STEPS, BATCH = 512, 64, 72, 20, 32


class CharLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(96, EMBEDDING)
        self.lstm = torch.nn.LSTM(EMBEDDING, HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, 96)

    def forward(self, ids):  # (T, B) -> (T, B, 96)
        return self.out(self.lstm(self.embed(ids))[0])


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(PHONES, EMBEDDING)
        self.lstm = torch.nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)
        self.out = torch.nn.Linear(HIDDEN, PHONES)

    def forward(self, start, h, c):  # greedy: the logits of every step (S, B, V)
        ids, logits = start, []
        for _ in range(STEPS):
            output, (h, c) = self.lstm(self.embed(ids.reshape(-1, 1)), (h, c))
            logits.append(self.out(output[:, 0]))
            ids = logits[-1].argmax(1)
        return torch.stack(logits)


def max_rel_diff(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "onednn"
    torch.manual_seed(0)
    spec = {torch.nn.Linear, torch.nn.LSTM}

    def report(workload, precision, ms, diff):
        print(json.dumps({"bench": "quant", "impl": "torch", "workload": workload, "hidden": HIDDEN,
                          "precision": precision, "threads": args.threads, "ms": round(ms, 3),
                          "max_rel_diff": round(diff, 5), "engine": torch.backends.quantized.engine}),
              flush=True)

    with torch.no_grad():
        charlm = CharLM().eval()
        text = torch.randint(0, 96, (64, BATCH))
        reference = charlm(text)
        report("charlm", "float32", median_ms(lambda: charlm(text), args.reps), 0.0)
        charlm_int8 = quantize_dynamic(charlm, spec, dtype=torch.qint8)
        diff = max_rel_diff(charlm_int8(text), reference)
        report("charlm", "int8", median_ms(lambda: charlm_int8(text), args.reps), diff)

        decoder = Decoder().eval()
        start = torch.randint(0, PHONES, (BATCH,))
        h0, c0 = torch.randn(1, BATCH, HIDDEN) * 0.5, torch.randn(1, BATCH, HIDDEN) * 0.5
        reference = decoder(start, h0, c0)
        report("g2p_decoder", "float32", median_ms(lambda: decoder(start, h0, c0), args.reps), 0.0)
        decoder_int8 = quantize_dynamic(decoder, spec, dtype=torch.qint8)
        diff = max_rel_diff(decoder_int8(start, h0, c0)[0], reference[0])
        report("g2p_decoder", "int8", median_ms(lambda: decoder_int8(start, h0, c0), args.reps), diff)


if __name__ == "__main__":
    main()
