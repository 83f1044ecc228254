"""The four workloads of ../shared/anchors/torch_train_bench.py in PyTorch, with the flags and the
JSON line of bench_workloads.cpp (same models, same synthetic data, same timing: --warmup untimed
steps, then --steps timed ones, median). compare.sh sets the thread variables before starting it.

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
        /usr/bin/python3 bench/bench_workloads.py --workload charlm --hidden 512 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = {
    "charlm": dict(vocab=96, emb=64, hidden=512, batch=32, seq_len=64),
    "classifier": dict(vocab=20000, emb=128, hidden=256, batch=64, seq_len=100, classes=2),
    "seq2seq": dict(src_vocab=5000, tgt_vocab=5000, emb=256, hidden=256, batch=64, src_len=20,
                    tgt_len=20),
    "caption": dict(vocab=1000, emb=256, hidden=256, batch=64, cap_len=12, img_size=28, conv1=16,
                    conv2=32, kernel=3, pad=1, feat=256),
}


class CharLM(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.emb, s.lstm, s.out = nn.Embedding(c["vocab"], c["emb"]), nn.LSTM(c["emb"], c["hidden"]), \
            nn.Linear(c["hidden"], c["vocab"])

    def forward(s, x):                  # x: (T, B)
        return s.out(s.lstm(s.emb(x))[0])  # (T, B, V)


class Classifier(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.emb, s.lstm, s.out = nn.Embedding(c["vocab"], c["emb"]), nn.LSTM(c["emb"], c["hidden"]), \
            nn.Linear(c["hidden"], c["classes"])

    def forward(s, x):                  # x: (T, B)
        _, (h, _) = s.lstm(s.emb(x))
        return s.out(h[-1])             # (B, C)


class Seq2Seq(nn.Module):
    def __init__(s, c):
        super().__init__()
        E, H = c["emb"], c["hidden"]
        s.src_emb, s.tgt_emb = nn.Embedding(c["src_vocab"], E), nn.Embedding(c["tgt_vocab"], E)
        s.enc, s.dec = nn.LSTM(E, H), nn.LSTM(E, H)
        s.attn = c["attention"] == "dot"
        if s.attn:
            s.combine = nn.Linear(2 * H, H, bias=False)
        s.out = nn.Linear(H, c["tgt_vocab"])

    def forward(s, src, tgt_in):        # (Ts, B), (Tt, B)
        enc_out, state = s.enc(s.src_emb(src))
        dec_out, _ = s.dec(s.tgt_emb(tgt_in), state)
        if not s.attn:
            return s.out(dec_out)
        q, k = dec_out.transpose(0, 1), enc_out.transpose(0, 1)     # (B, Tt, H), (B, Ts, H)
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)  # (B, Tt, Ts)
        h = torch.tanh(s.combine(torch.cat([torch.bmm(a, k), q], dim=-1)))
        return s.out(h).transpose(0, 1)  # (Tt, B, V)


class Caption(nn.Module):
    def __init__(s, c):
        super().__init__()
        k, p = c["kernel"], c["pad"]
        s.conv1 = nn.Conv2d(1, c["conv1"], k, padding=p)
        s.conv2 = nn.Conv2d(c["conv1"], c["conv2"], k, padding=p)
        s1 = (c["img_size"] + 2 * p - k + 1) // 2
        s2 = (s1 + 2 * p - k + 1) // 2
        s.fc = nn.Linear(c["conv2"] * s2 * s2, c["feat"])
        s.emb, s.lstm, s.out = nn.Embedding(c["vocab"], c["emb"]), nn.LSTM(c["emb"], c["hidden"]), \
            nn.Linear(c["hidden"], c["vocab"])

    def forward(s, img, cap_in):        # (B, 1, S, S), (L, B)
        x = F.max_pool2d(F.relu(s.conv1(img)), 2)
        x = F.max_pool2d(F.relu(s.conv2(x)), 2)
        h0 = torch.tanh(s.fc(x.flatten(1))).unsqueeze(0)  # (1, B, feat)
        return s.out(s.lstm(s.emb(cap_in), (h0, torch.zeros_like(h0)))[0])  # (L, B, V)


def lstm_flops(B, T, I, H):
    return 2 * B * T * 4 * H * (I + H)


def forward_flops(w, c):
    """Forward GEMM/conv FLOPs (2 per multiply-add), as the anchors count them."""
    if w == "charlm":
        return lstm_flops(c["batch"], c["seq_len"], c["emb"], c["hidden"]) + \
            2 * c["batch"] * c["seq_len"] * c["hidden"] * c["vocab"]
    if w == "classifier":
        return lstm_flops(c["batch"], c["seq_len"], c["emb"], c["hidden"]) + \
            2 * c["batch"] * c["hidden"] * c["classes"]
    if w == "seq2seq":
        B, Ts, Tt, H = c["batch"], c["src_len"], c["tgt_len"], c["hidden"]
        f = lstm_flops(B, Ts, c["emb"], H) + lstm_flops(B, Tt, c["emb"], H)
        if c["attention"] == "dot":
            f += 2 * (2 * B * Tt * Ts * H) + 2 * B * Tt * 2 * H * H
        return f + 2 * B * Tt * H * c["tgt_vocab"]
    B, k, p = c["batch"], c["kernel"], c["pad"]
    s1 = c["img_size"] + 2 * p - k + 1
    s2 = s1 // 2 + 2 * p - k + 1
    f = 2 * B * s1 * s1 * c["conv1"] * k * k + 2 * B * s2 * s2 * c["conv2"] * c["conv1"] * k * k
    f += 2 * B * c["conv2"] * (s2 // 2) ** 2 * c["feat"]
    return f + lstm_flops(B, c["cap_len"], c["emb"], c["hidden"]) + \
        2 * B * c["cap_len"] * c["hidden"] * c["vocab"]


def make_batch(w, c, g):
    B = c["batch"]
    if w == "charlm":
        seq = torch.randint(c["vocab"], (c["seq_len"] + 1, B), generator=g)
        return (seq[:-1],), seq[1:]
    if w == "classifier":
        return (torch.randint(c["vocab"], (c["seq_len"], B), generator=g),), \
            torch.randint(c["classes"], (B,), generator=g)
    if w == "seq2seq":
        src = torch.randint(c["src_vocab"], (c["src_len"], B), generator=g)
        tgt = torch.randint(c["tgt_vocab"], (c["tgt_len"] + 1, B), generator=g)
        return (src, tgt[:-1]), tgt[1:]
    img = torch.randn(B, 1, c["img_size"], c["img_size"], generator=g)
    cap = torch.randint(c["vocab"], (c["cap_len"] + 1, B), generator=g)
    return (img, cap[:-1]), cap[1:]


def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True, choices=sorted(DEFAULTS))
    ap.add_argument("--mode", default="train", choices=["train", "infer"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--pool", type=int, default=4)
    ap.add_argument("--attention", default="none", choices=["none", "dot"])
    for name in ("hidden", "seq_len", "batch"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=int, default=None)
    args = ap.parse_args()
    w = args.workload
    c = dict(DEFAULTS[w], attention=args.attention)
    for name in ("hidden", "seq_len", "batch"):
        if getattr(args, name) is not None:
            c[name] = getattr(args, name)
    if w == "caption":
        c["feat"] = c["hidden"]

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = {"charlm": CharLM, "classifier": Classifier, "seq2seq": Seq2Seq, "caption": Caption}[w](c)
    g = torch.Generator().manual_seed(1)
    batches = [make_batch(w, c, g) for _ in range(args.pool)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = args.mode == "train"
    model.train(train)

    def loss_of(xs, y):
        out = model(*xs)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    def step(i):
        xs, y = batches[i % len(batches)]
        if not train:
            with torch.no_grad():
                return loss_of(xs, y)
        opt.zero_grad(set_to_none=True)
        loss = loss_of(xs, y)
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        loss = step(i)
        times.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(times)
    flops = forward_flops(w, c) * (3 if train else 1)
    print(json.dumps({
        "impl": "torch", "workload": w, "mode": args.mode, "attention": args.attention,
        "hidden": c["hidden"], "seq_len": c.get("seq_len", 0), "threads": args.threads,
        "ms_step_median": round(median, 3), "ms_step_min": round(min(times), 3),
        "achieved_gflops_est": round(flops / median / 1e6, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
        "final_loss": round(float(loss), 4)}), flush=True)


if __name__ == "__main__":
    main()
