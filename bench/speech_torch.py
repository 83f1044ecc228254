#!/usr/bin/python3
"""PyTorch reference of Loom's speech task (tools/speech_task.cpp): the same data, features,
model, augmentation, optimiser and schedule, for the reference figure and the time per epoch.

    /usr/bin/python3 bench/speech_torch.py --epochs 20 --threads 2
    /usr/bin/python3 bench/speech_torch.py --limit 300 --eval-limit 200 --epochs 1   # quick check

Data: <data>/{train,validation,test}.tsv (`bash scripts/fetch_data.sh speech`), 16-bit PCM WAVs.
Features (data/src/audio.cpp, computed with numpy): resampled to 16 kHz, pre-emphasis 0.97,
Hann frames of 400 samples every 160, FFT 512, power, 40 HTK-mel triangles 20-8000 Hz,
log(energy + 1e-6), per-utterance per-band mean/variance normalisation, frames stacked in pairs
-> (ceil(T / 2), 80). Loom resamples with libsamplerate's SRC_SINC_FASTEST; there is no
libsamplerate (nor scipy) here, so this script resamples with a Kaiser-windowed sinc written in
numpy (cutoff 0.9 of the lower Nyquist frequency, 16 zero crossings each side, beta 8.6).
Model: 2-layer bidirectional LSTM(80 -> 128 per direction), dropout 0.2 between the layers and
before Linear(256, 12) (as Loom's SequenceTagger), log_softmax, CTC (blank 0, mean).
Training: AdamW(lr 2e-3, weight decay 0), gradient norm clipped at 5, batches of 32 bucketed by
length (sorted within chunks of 20 batches, batch order shuffled), the augmentation of Loom's
AugmentedBatches, cosine annealing per epoch to 2% of the rate. The epoch with the best
validation greedy digit error rate is tested (greedy and prefix beam search, width 8).
"""
import argparse
import json
import math
import os
import sys
import time
import wave


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--data", default=os.path.join(here, "..", "data", "cache", "speech"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training utterances")
    p.add_argument("--eval-limit", type=int, default=0,
                   help="use only the first N validation and test utterances (quick checks only)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beam", type=int, default=8, help="prefix beam width for the test (0: greedy only)")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before torch and numpy load OpenBLAS / OpenMP (as bench/README.md: "Threads")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(ARGS.threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

SYMBOLS = "zo123456789"
BLANK, MEL_BANDS, FRAMES_PER_STEP = 0, 40, 2
NUM_CLASSES = 1 + len(SYMBOLS)
RATE, WINDOW, HOP, FFT = 16000, 400, 160, 512


# ---- features ---------------------------------------------------------------------------------

def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        channels, rate = w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    return data.reshape(-1, channels).mean(axis=1), rate


_PHASES = {}


def _phase_table(up, down, half, cutoff, beta):
    """Filter taps for each of the `up` fractional output positions of a resampling by up/down."""
    key = (up, down)
    if key not in _PHASES:
        frac = np.arange(up)[:, None] / up                  # output time minus floor, in input samples
        d = frac - np.arange(-half + 1, half + 1)[None, :]  # (up, 2 * half)
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (d / half) ** 2, 0.0, None))) / np.i0(beta)
        _PHASES[key] = 2.0 * cutoff * np.sinc(2.0 * cutoff * d) * window
    return _PHASES[key]


def resample(x, from_rate, to_rate, zeros=16, beta=8.6, rolloff=0.9):
    """Band-limited resampling by a Kaiser-windowed sinc (polyphase: the rates' ratio up/down in
    lowest terms has `up` distinct filter phases), evaluated at each output time."""
    if from_rate == to_rate or len(x) == 0:
        return x
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    ratio = up / down
    cutoff = 0.5 * min(1.0, ratio) * rolloff              # cycles per input sample
    half = int(math.ceil(zeros / (2.0 * cutoff)))         # taps each side, in input samples
    table = _phase_table(up, down, half, cutoff, beta)
    count = int(round(len(x) * ratio))
    position = np.arange(count, dtype=np.int64) * down    # output time * up, in input samples * up
    base, phase = position // up, position % up
    idx = base[:, None] + np.arange(-half + 1, half + 1)[None, :] + half
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    return np.einsum("ij,ij->i", padded[idx], table[phase])


def _mel_filters():
    mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(mel(20.0) + (mel(8000.0) - mel(20.0)) * np.arange(MEL_BANDS + 2) / (MEL_BANDS + 1))
    freqs = np.arange(FFT // 2 + 1) * RATE / FFT
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32).astype(np.float64)  # (40, 257)


FILTERS = _mel_filters()
HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)


def log_mel(samples):
    e = samples.copy()
    e[1:] -= 0.97 * samples[:-1]
    n = len(e)
    frames = 1 if n <= WINDOW else 1 + (n - WINDOW + HOP - 1) // HOP
    e = np.concatenate([e, np.zeros((frames - 1) * HOP + WINDOW - n if (frames - 1) * HOP + WINDOW > n else 0)])
    idx = np.arange(frames)[:, None] * HOP + np.arange(WINDOW)[None, :]
    spectrum = np.fft.rfft(e[idx] * HANN, n=FFT, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    feats = np.log(power @ FILTERS.T + 1e-6)              # (frames, 40)
    mean = feats.mean(axis=0)
    var = ((feats - mean) ** 2).mean(axis=0)
    return ((feats - mean) / np.sqrt(var + 1e-5)).astype(np.float32)


def features_of(path):
    samples, rate = read_wav(path)
    frames = log_mel(resample(samples, rate, RATE))
    steps = (len(frames) + FRAMES_PER_STEP - 1) // FRAMES_PER_STEP
    stacked = np.zeros((steps * FRAMES_PER_STEP, MEL_BANDS), np.float32)
    stacked[:len(frames)] = frames
    return stacked.reshape(steps, FRAMES_PER_STEP * MEL_BANDS)


def load_part(directory, part, limit, pool):
    files, words = [], []
    with open(os.path.join(directory, part + ".tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        fi, wi = header.index("file"), header.index("words")
        for line in f:
            row = line.rstrip("\n").split("\t")
            files.append(os.path.join(directory, row[fi]))
            words.append(row[wi])
    if limit:
        files, words = files[:limit], words[:limit]
    feats = pool.map(features_of, files, chunksize=16) if pool else [features_of(p) for p in files]
    labels = [[1 + SYMBOLS.index(c) for c in w] for w in words]
    return feats, labels, words


# ---- model ------------------------------------------------------------------------------------

class SequenceTagger(nn.Module):
    def __init__(self, inputs=MEL_BANDS * FRAMES_PER_STEP, hidden=128, layers=2, dropout=0.2):
        super().__init__()
        self.rnn = nn.LSTM(inputs, hidden, num_layers=layers, bidirectional=True, dropout=dropout,
                           batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, NUM_CLASSES)

    def forward(self, x, lengths):  # (B, T, F), (B) -> (B, T, C)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return self.fc(self.dropout(out))


def log_probs_of(model, x, lengths):  # -> (T, B, C)
    return torch.log_softmax(model(x, lengths), dim=2).transpose(0, 1)


# ---- batches ----------------------------------------------------------------------------------

def bucketed_batches(lengths, batch, bucket, rng):
    """SequenceBatches with shuffling: a permutation, sorted by length within chunks of `bucket`
    batches, cut into batches, the batch order shuffled."""
    order = rng.permutation(len(lengths))
    chunk = bucket * batch
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        order[start:start + chunk] = part[np.argsort(lengths[part], kind="stable")]
    batches = [order[i:i + batch] for i in range(0, len(order), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths, batch):
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch] for i in range(0, len(order), batch)]


def collate(feats, labels, rows):
    lengths = torch.tensor([feats[i].shape[0] for i in rows], dtype=torch.int64)
    x = torch.zeros(len(rows), int(lengths.max()), FRAMES_PER_STEP * MEL_BANDS)
    for b, i in enumerate(rows):
        x[b, :feats[i].shape[0]] = torch.from_numpy(feats[i])
    targets = torch.cat([torch.tensor(labels[i], dtype=torch.int64) for i in rows])
    target_lengths = torch.tensor([len(labels[i]) for i in rows], dtype=torch.int64)
    return x, lengths, targets, target_lengths


def augment(x, lengths, rng):
    """Loom's AugmentedBatches: per utterance, the mel axis warped by U(0.85, 1.15) (band m reads
    the original at m / warp, linearly interpolated), a band of up to 6 mel bands and a span of up
    to a tenth of the steps set to 0. x (B, T, 80) padded, changed in place."""
    B, T, _ = x.shape
    frames = x.view(B, T * FRAMES_PER_STEP, MEL_BANDS)
    m = np.arange(MEL_BANDS)
    below = np.empty((B, MEL_BANDS), np.int64)
    frac = np.empty((B, MEL_BANDS), np.float32)
    keep_band = np.ones((B, MEL_BANDS), np.float32)
    keep_step = np.ones((B, T), np.float32)
    for b in range(B):
        n = int(lengths[b])
        warp = 0.85 + 0.3 * rng.random()
        first = int(rng.random() * MEL_BANDS)
        count = int(rng.random() * 7)
        steps = int(rng.random() * (n // 10 + 1))
        start = int(rng.random() * (n - steps + 1))
        at = np.minimum(m / warp, MEL_BANDS - 1.0)
        below[b] = at.astype(np.int64)
        frac[b] = at - below[b]
        keep_band[b, first:min(first + count, MEL_BANDS)] = 0.0
        keep_step[b, start:start + steps] = 0.0
    below_t = torch.from_numpy(below)
    above_t = torch.clamp(below_t + 1, max=MEL_BANDS - 1)
    lo = torch.gather(frames, 2, below_t[:, None, :].expand(B, T * FRAMES_PER_STEP, MEL_BANDS))
    hi = torch.gather(frames, 2, above_t[:, None, :].expand(B, T * FRAMES_PER_STEP, MEL_BANDS))
    warped = lo + torch.from_numpy(frac)[:, None, :] * (hi - lo)
    warped *= torch.from_numpy(keep_band)[:, None, :]
    warped *= torch.from_numpy(np.repeat(keep_step, FRAMES_PER_STEP, axis=1))[:, :, None]
    frames.copy_(warped)
    return x


# ---- decoding and scores ----------------------------------------------------------------------

def greedy(log_probs, lengths):  # (T, B, C) -> label lists
    best = log_probs.argmax(dim=2).t().tolist()
    out = []
    for b, path in enumerate(best):
        labels, previous = [], BLANK
        for c in path[:int(lengths[b])]:
            if c != BLANK and c != previous:
                labels.append(c)
            previous = c
        out.append(labels)
    return out


NEG_INF = float("-inf")


def log_add(a, b):
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


def beam_search(frames, width):
    """Prefix beam search as Loom's ctc_beam_search: frames (T, C) log-probabilities."""
    def best_of(beam):
        ranked = sorted(((k, log_add(*v)) for k, v in beam.items() if log_add(*v) != NEG_INF),
                        key=lambda kv: (-kv[1], kv[0]))
        return ranked[:width]

    beam = {(): [0.0, NEG_INF]}  # prefix -> [ending in blank, ending in its last label]
    for frame in frames:
        nxt = {}
        for prefix, total in best_of(beam):
            blank_score, label_score = beam[prefix]
            same = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            same[0] = log_add(same[0], total + frame[BLANK])
            for c in range(len(frame)):
                if c == BLANK:
                    continue
                longer = nxt.setdefault(prefix + (c,), [NEG_INF, NEG_INF])
                if prefix and prefix[-1] == c:
                    longer[1] = log_add(longer[1], blank_score + frame[c])
                    same[1] = log_add(same[1], label_score + frame[c])
                else:
                    longer[1] = log_add(longer[1], total + frame[c])
        beam = nxt
    ranked = best_of(beam)
    return list(ranked[0][0]) if ranked else []


def _beam_job(item):
    frames, width = item
    return beam_search(frames, width)


def decode(model, feats, labels, beam=1, pool=None):
    model.eval()
    words = [None] * len(feats)
    lengths_all = np.array([f.shape[0] for f in feats])
    jobs, job_rows = [], []
    with torch.no_grad():
        for rows in sorted_batches(lengths_all, 64):
            x, lengths, _, _ = collate(feats, labels, rows)
            log_probs = log_probs_of(model, x, lengths)
            if beam > 1:
                lp = log_probs.double().numpy()
                for b, i in enumerate(rows):
                    jobs.append((lp[:int(lengths[b]), b, :].tolist(), beam))
                    job_rows.append(i)
            else:
                for i, best in zip(rows, greedy(log_probs, lengths)):
                    words[i] = "".join(SYMBOLS[c - 1] for c in best)
    if beam > 1:
        results = pool.map(_beam_job, jobs, chunksize=8) if pool else [_beam_job(j) for j in jobs]
        for i, best in zip(job_rows, results):
            words[i] = "".join(SYMBOLS[c - 1] for c in best)
    model.train()
    return words


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[len(b)]


def score(predicted, references):
    errors = sum(edit_distance(p, r) for p, r in zip(predicted, references))
    digits = sum(len(r) for r in references)
    right = sum(p == r for p, r in zip(predicted, references))
    return errors / max(digits, 1), right / max(len(references), 1)


def cpu_model():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    key, value = (s.strip() for s in line.split(":", 1))
                    if key in ("vendor_id", "cpu family", "model", "model name") and key not in info:
                        info[key] = value
                if not line.strip() and info:
                    break
    except OSError:
        pass
    return {"vendor": info.get("vendor_id"), "family": info.get("cpu family"), "model": info.get("model"),
            "model_name": info.get("model name")}


# ---- main -------------------------------------------------------------------------------------

def main(args):
    import multiprocessing as mp
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # Features on `threads` worker processes (Loom: one utterance per thread at a time), forked
    # before torch has run anything.
    pool = mp.get_context("fork").Pool(args.threads) if args.threads > 1 else None
    start = time.perf_counter()
    train = load_part(args.data, "train", args.limit, pool)
    val = load_part(args.data, "validation", args.eval_limit, pool)
    feature_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = load_part(args.data, "test", args.eval_limit, pool)
    test_feature_seconds = time.perf_counter() - start
    print(f"speech: {len(train[0])} training, {len(val[0])} validation, {len(test[0])} test utterances "
          f"(features: train+validation {feature_seconds:.1f} s, test {test_feature_seconds:.1f} s, "
          f"{args.threads} processes)", flush=True)

    model = SequenceTagger()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr * 0.02)
    ctc = nn.CTCLoss(blank=BLANK, reduction="mean", zero_infinity=False)
    train_lengths = np.array([f.shape[0] for f in train[0]])

    history, best_der, best_epoch, best_state = [], float("inf"), 0, None
    for epoch in range(1, args.epochs + 1):
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        total, count = 0.0, 0
        for rows in bucketed_batches(train_lengths, args.batch, 20, rng):
            x, lengths, targets, target_lengths = collate(train[0], train[1], rows)
            augment(x, lengths, rng)
            loss = ctc(log_probs_of(model, x, lengths), targets, lengths, target_lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            total += loss.item()
            count += 1
        seconds = time.perf_counter() - start
        schedule.step()
        start = time.perf_counter()
        der, acc = score(decode(model, val[0], val[1]), val[2])
        val_seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "seconds": seconds, "train_loss": total / count, "val_der": der,
                        "val_string_accuracy": acc, "lr": lr, "val_seconds": val_seconds})
        print(f"epoch {epoch:2d}  {seconds:7.1f} s  lr {lr:.2e}  train loss {total / count:.4f}  "
              f"val DER {100 * der:.2f}%  val strings {acc:.3f}  (validation {val_seconds:.1f} s)", flush=True)
        if der < best_der:
            best_der, best_epoch = der, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    start = time.perf_counter()
    test_der, test_acc = score(decode(model, test[0], test[1]), test[2])
    greedy_seconds = time.perf_counter() - start
    beam_der = beam_acc = None
    if args.beam > 1:
        start = time.perf_counter()
        beam_der, beam_acc = score(decode(model, test[0], test[1], beam=args.beam, pool=pool), test[2])
        beam_seconds = time.perf_counter() - start
        print(f"test (beam {args.beam}, {beam_seconds:.1f} s): DER {100 * beam_der:.2f}%  strings {beam_acc:.3f}")
    print(f"test (greedy, {greedy_seconds:.1f} s): DER {100 * test_der:.2f}%  strings {test_acc:.3f}  "
          f"(best epoch {best_epoch}, val DER {100 * best_der:.2f}%)")
    if pool:
        pool.close()

    seconds = [h["seconds"] for h in history]
    print(json.dumps({
        "task": "speech", "framework": "torch", "torch": torch.__version__, "cpu": cpu_model(),
        "threads": args.threads, "epochs": args.epochs, "train_utterances": len(train[0]),
        "mean_epoch_seconds": sum(seconds) / len(seconds),
        "mean_epoch_seconds_after_first": (sum(seconds[1:]) / (len(seconds) - 1)) if len(seconds) > 1 else None,
        "epoch_seconds": [round(s, 2) for s in seconds],
        "best_epoch": best_epoch, "best_val_digit_error_rate": best_der,
        "test_digit_error_rate_greedy": test_der, "test_string_accuracy_greedy": test_acc,
        "test_digit_error_rate_beam": beam_der, "test_string_accuracy_beam": beam_acc, "beam_size": args.beam,
        "feature_seconds_train_validation": feature_seconds, "feature_seconds_test": test_feature_seconds,
        "history": history,
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main(ARGS))
