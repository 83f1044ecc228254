"""Reference values for tests/test_ctc.cpp: torch.nn.functional.ctc_loss on log_softmax(scores),
blank first and last, every reduction, zero_infinity off and on. The batch has random lengths,
repeated labels, a target as long as its input (one alignment), an empty target and two
infeasible pairs (a repeat leaves too few frames; a target longer than its input). Emits the inputs, each loss and the gradient
with respect to the scores of (loss * gout).sum()."""
import torch
import torch.nn.functional as F

from common import emit

torch.manual_seed(0)
T, B, C, S = 12, 8, 6, 6

scores = torch.randn(T, B, C)
gout = torch.rand(B) + 0.5
input_lengths = torch.tensor([12, 9, 5, 12, 8, 2, 3, 2])
target_lengths = torch.tensor([5, 3, 5, 0, 6, 2, 2, 4])
# labels 1..C-2 are neither blank position, so one table serves both blanks
draws = torch.randint(1, C - 1, (B, S))
draws[0, :5] = torch.tensor([2, 2, 3, 3, 2])  # repeats: 5 labels + 2 blanks between equal ones
draws[2, :5] = torch.tensor([1, 2, 3, 4, 1])  # as long as its input: exactly one alignment
draws[4, :6] = torch.tensor([1, 1, 2, 1, 1, 3])  # 6 labels + 2 blanks in 8 frames
draws[6, :2] = torch.tensor([4, 4])           # needs 3 frames, has 3
draws[5, :2] = torch.tensor([3, 3])           # infeasible: "3 3" in 2 frames
draws[7, :4] = torch.tensor([1, 2, 3, 4])     # infeasible: 4 labels in 2 frames
emit("scores", scores)
emit("gout", gout)
emit("input_lengths", input_lengths)
emit("target_lengths", target_lengths)
emit("targets", draws)

for blank_name, blank in (("first", 0), ("last", C - 1)):
    targets = draws
    for zero_infinity in (False, True):
        for reduction in ("none", "mean", "sum"):
            x = scores.clone().requires_grad_()
            loss = F.ctc_loss(x.log_softmax(2), targets, input_lengths, target_lengths, blank=blank,
                              reduction=reduction, zero_infinity=zero_infinity)
            (loss * gout).sum().backward() if reduction == "none" else loss.backward()
            name = f"{blank_name}.{'zero' if zero_infinity else 'inf'}.{reduction}"
            emit(f"{name}.loss", loss)
            emit(f"{name}.grad", x.grad)
