"""PyTorch reference for Loom's optimizers and schedulers.

    /usr/bin/python3 optim.py --optimizers "sgd lr=0.1 momentum=0.9;adam lr=0.01" --steps 20
For optimizer config k: params k.a (3, 4) and k.b (5,) in two groups (b's lr halved, no weight
decay), gradients k.g<step>.a / .b, and the final parameters k.final.a / .b.

    /usr/bin/python3 optim.py --schedulers "step step_size=7 gamma=0.5;cosine t_max=10" --epochs 30
For scheduler config k: k.lr, the learning rate after each of `epochs` steps (base lr 0.1);
plateau configs read the metric sequence k.metric, emitted too.
"""
import argparse
import math

import torch

from common import emit

parser = argparse.ArgumentParser()
parser.add_argument("--optimizers", default="")
parser.add_argument("--schedulers", default="")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()


def parse(config):
    name, *pairs = config.split()
    values = {}
    for pair in pairs:
        key, value = pair.split("=")
        values[key] = value.lower() == "true" if value.lower() in ("true", "false") else float(value)
    return name, values


def make_optimizer(name, v, groups):
    if name == "sgd":
        return torch.optim.SGD(groups, lr=v["lr"], momentum=v.get("momentum", 0), dampening=v.get("dampening", 0),
                               weight_decay=v.get("weight_decay", 0), nesterov=v.get("nesterov", False))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(groups, lr=v["lr"], betas=(v.get("beta1", 0.9), v.get("beta2", 0.999)), eps=v.get("eps", 1e-8),
                   weight_decay=v.get("weight_decay", 0 if name == "adam" else 0.01), amsgrad=v.get("amsgrad", False))
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=v["lr"], alpha=v.get("alpha", 0.99), eps=v.get("eps", 1e-8),
                                   weight_decay=v.get("weight_decay", 0), momentum=v.get("momentum", 0),
                                   centered=v.get("centered", False))
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=v["lr"], lr_decay=v.get("lr_decay", 0), weight_decay=v.get("weight_decay", 0),
                                   initial_accumulator_value=v.get("initial_accumulator_value", 0), eps=v.get("eps", 1e-10))
    raise SystemExit(f"unknown optimizer {name}")


for k, config in enumerate(c for c in args.optimizers.split(";") if c.strip()):
    name, v = parse(config)
    torch.manual_seed(k)
    a = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    emit(f"{k}.a", a)
    emit(f"{k}.b", b)
    optimizer = make_optimizer(name, v, [{"params": [a]}, {"params": [b], "lr": v["lr"] / 2, "weight_decay": 0.0}])
    for step in range(args.steps):
        a.grad = torch.randn_like(a)
        b.grad = torch.randn_like(b)
        emit(f"{k}.g{step}.a", a.grad)
        emit(f"{k}.g{step}.b", b.grad)
        optimizer.step()
    emit(f"{k}.final.a", a)
    emit(f"{k}.final.b", b)

for k, config in enumerate(c for c in args.schedulers.split(";") if c.strip()):
    name, v = parse(config)
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1)
    lrs, metrics = [], []
    s = torch.optim.lr_scheduler
    if name == "step":
        schedule = s.StepLR(optimizer, int(v["step_size"]), v.get("gamma", 0.1))
    elif name == "exponential":
        schedule = s.ExponentialLR(optimizer, v["gamma"])
    elif name == "cosine":
        schedule = s.CosineAnnealingLR(optimizer, int(v["t_max"]), v.get("eta_min", 0))
    elif name == "linear":
        schedule = s.LinearLR(optimizer, v.get("start_factor", 1 / 3), v.get("end_factor", 1.0), int(v.get("total_iters", 5)))
    elif name == "plateau":
        schedule = s.ReduceLROnPlateau(optimizer, mode="min", factor=v.get("factor", 0.1), patience=int(v.get("patience", 10)),
                                       threshold=v.get("threshold", 1e-4), cooldown=int(v.get("cooldown", 0)),
                                       min_lr=v.get("min_lr", 0))
    for epoch in range(args.epochs):
        optimizer.step()
        if name == "plateau":
            metric = 1.0 / (1 + min(epoch, 6)) + 0.01 * math.sin(epoch)  # improves, then wobbles
            metrics.append(metric)
            schedule.step(metric)
        else:
            schedule.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    emit(f"{k}.lr", torch.tensor(lrs))
    if metrics:
        emit(f"{k}.metric", torch.tensor(metrics))
