"""PyTorch reference for Loom's SequenceClassifier: the same architecture and parameter names
(embedding, rnn, fc) on a padded batch (pack_padded_sequence), its logits, and every parameter's
gradient of cross_entropy(logits, labels), in float64.

    /usr/bin/python3 models.py --cell lstm --pooling max --layers 2 --bidirectional
"""
import argparse

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from common import emit, emit_module

parser = argparse.ArgumentParser()
parser.add_argument("--cell", choices=["lstm", "gru"], required=True)
parser.add_argument("--pooling", choices=["last", "mean", "max"], required=True)
parser.add_argument("--layers", type=int, default=1)
parser.add_argument("--bidirectional", action="store_true")
args = parser.parse_args()

torch.manual_seed(0)
vocab, dim, hidden, classes, steps = 7, 3, 4, 3, 5
lengths = torch.tensor([5, 2, 4])
directions = 2 if args.bidirectional else 1


class SequenceClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, dim, padding_idx=0)
        rnn = torch.nn.LSTM if args.cell == "lstm" else torch.nn.GRU
        self.rnn = rnn(dim, hidden, num_layers=args.layers, batch_first=True,
                       bidirectional=args.bidirectional)
        self.fc = torch.nn.Linear(directions * hidden, classes)

    def forward(self, ids):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)  # (B, T, D*H)
        h_n = final[0] if args.cell == "lstm" else final                          # (L*D, B, H)
        if args.pooling == "last":
            summary = h_n[-directions:].transpose(0, 1).reshape(len(lengths), -1)
        elif args.pooling == "mean":
            summary = out.sum(1) / lengths[:, None]
        else:
            padded = torch.arange(steps)[None, :] >= lengths[:, None]                 # (B, T)
            summary = out.masked_fill(padded[:, :, None], float("-inf")).max(1).values
        return self.fc(summary)


model = SequenceClassifier()
ids = torch.randint(1, vocab, (len(lengths), steps))
ids[torch.arange(steps)[None, :] >= lengths[:, None]] = 0
labels = torch.tensor([0, 2, 1])
logits = model(ids)
torch.nn.functional.cross_entropy(logits, labels).backward()

emit_module("", model)
emit("ids", ids)
emit("lengths", lengths)
emit("labels", labels)
emit("logits", logits)
