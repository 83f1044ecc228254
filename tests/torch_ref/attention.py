"""Reference values for tests/test_attention.cpp: additive (Bahdanau) and multiplicative (Luong
dot and general) attention written directly from their formulas, with a padding mask. Emits the
weights, inputs, context, attention weights and the gradients of
loss = (context * gout_context).sum() + (weights * gout_weights).sum()."""
import torch

from common import emit

torch.manual_seed(0)
B, Tq, S, Hq, Hk, Hv, H = 2, 3, 5, 4, 6, 7, 8
mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])  # example 1 has 3 real positions


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_()


def attend(prefix, scores_of, tensors, query, keys, values):
    scores = scores_of()  # (B, Tq, S)
    scores = scores.masked_fill(mask.unsqueeze(1) == 0, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    context = weights @ values
    gout_context, gout_weights = torch.randn_like(context), torch.randn_like(weights)
    ((context * gout_context).sum() + (weights * gout_weights).sum()).backward()
    for name, t in list(tensors.items()) + [("query", query), ("keys", keys), ("values", values)]:
        emit(f"{prefix}.{name}", t)
        emit(f"{prefix}.{name}.grad", t.grad)
    emit(f"{prefix}.mask", mask)
    emit(f"{prefix}.context", context)
    emit(f"{prefix}.weights", weights)
    emit(f"{prefix}.gout_context", gout_context)
    emit(f"{prefix}.gout_weights", gout_weights)


# Additive: v^T tanh(W_q q + b_q + W_k k)
q, k, v = leaf(B, Tq, Hq), leaf(B, S, Hk), leaf(B, S, Hv)
p = {"query_proj.weight": leaf(H, Hq, scale=0.5), "query_proj.bias": leaf(H, scale=0.5),
     "key_proj.weight": leaf(H, Hk, scale=0.5), "v.weight": leaf(1, H, scale=0.5)}
attend("additive", lambda: (torch.tanh(
    (q @ p["query_proj.weight"].T + p["query_proj.bias"]).unsqueeze(2) +
    (k @ p["key_proj.weight"].T).unsqueeze(1)) @ p["v.weight"].T).squeeze(-1), p, q, k, v)

# Multiplicative, general: q^T W k with W (Hq, Hk)
q, k, v = leaf(B, Tq, Hq), leaf(B, S, Hk), leaf(B, S, Hv)
p = {"key_proj.weight": leaf(Hq, Hk, scale=0.5)}
attend("general", lambda: q @ (k @ p["key_proj.weight"].T).transpose(1, 2), p, q, k, v)

# Multiplicative, dot: q^T k (keys of the query's size)
q, k, v = leaf(B, Tq, Hq), leaf(B, S, Hq), leaf(B, S, Hv)
attend("dot", lambda: q @ k.transpose(1, 2), {}, q, k, v)
