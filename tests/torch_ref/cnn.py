"""Reference values for tests/test_layers_cnn.cpp: Conv2d (several configurations), the pooling
layers, BatchNorm1d/2d (train, eval, running statistics) and the CNNEncoder, in float64.

For each case `tag` it prints the module's state before the step (`tag.state.<name>`), the input,
a random output gradient, the output, the input gradient, every parameter gradient
(`tag.grad.<name>`) and every buffer after the step (`tag.after.<name>`).
"""
import torch
from torch import nn

from common import emit

torch.manual_seed(0)


def case(tag, module, x, train=True):
    module.train(train)
    for name, t in module.state_dict().items():
        emit(f"{tag}.state.{name}", t)
    for p in module.parameters():
        p.grad = None
    x = x.clone().requires_grad_()
    y = module(x)
    grad_output = torch.randn_like(y)
    y.backward(grad_output)
    emit(f"{tag}.input", x)
    emit(f"{tag}.grad_output", grad_output)
    emit(f"{tag}.output", y)
    emit(f"{tag}.input.grad", x.grad)
    for name, p in module.named_parameters():
        emit(f"{tag}.grad.{name}", p.grad)
    for name, b in module.named_buffers():
        emit(f"{tag}.after.{name}", b)


def randomize_affine(norm):
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()


# ---- Conv2d: the configurations the C++ test builds with the same options ----
case("conv0", nn.Conv2d(3, 4, 3), torch.randn(2, 3, 7, 6))
case("conv1", nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, bias=False), torch.randn(2, 3, 8, 7))
case("conv2", nn.Conv2d(2, 3, 3, dilation=2, padding=(2, 1)), torch.randn(1, 2, 9, 8))
case("conv3", nn.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=1, groups=2), torch.randn(2, 4, 6, 5))

# ---- pooling ----
pool_input = torch.randn(2, 3, 7, 6)
case("maxpool0", nn.MaxPool2d(2), pool_input)
case("maxpool1", nn.MaxPool2d(3, stride=2, padding=1), pool_input)
case("avgpool0", nn.AvgPool2d(3, stride=2, padding=1), pool_input)
case("avgpool1", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), pool_input)
case("avgpool2", nn.AvgPool2d((2, 3), stride=(1, 2)), pool_input)
case("adaptive0", nn.AdaptiveAvgPool2d((3, 4)), torch.randn(2, 3, 7, 5))
case("adaptive1", nn.AdaptiveAvgPool2d(1), torch.randn(2, 3, 7, 5))

# ---- BatchNorm: a training step (batch statistics, running statistics move), then eval ----
bn2 = nn.BatchNorm2d(3)
randomize_affine(bn2)
case("bn2d_train", bn2, torch.randn(4, 3, 5, 4) * 2 + 1)
case("bn2d_eval", bn2, torch.randn(2, 3, 5, 4), train=False)
bn1 = nn.BatchNorm1d(4)
randomize_affine(bn1)
case("bn1d_train", bn1, torch.randn(6, 4) * 3 - 1)
case("bn1d_eval", bn1, torch.randn(3, 4), train=False)
case("bn1d_seq_train", bn1, torch.randn(3, 4, 5))
case("bn1d_seq_eval", bn1, torch.randn(2, 4, 5), train=False)


# ---- CNNEncoder: blocks conv<i> (+ norm<i>) -> relu -> 2x2 max pool ----
class Encoder(nn.Module):
    def __init__(self, in_channels, channels, kernel, batch_norm, features):
        super().__init__()
        self.blocks = len(channels)
        self.batch_norm, self.features = batch_norm, features
        for i, c in enumerate(channels):
            setattr(self, f"conv{i}", nn.Conv2d(in_channels, c, kernel, padding=kernel // 2,
                                                bias=not batch_norm))
            if batch_norm:
                setattr(self, f"norm{i}", nn.BatchNorm2d(c))
            in_channels = c

    def forward(self, x):
        for i in range(self.blocks):
            x = getattr(self, f"conv{i}")(x)
            if self.batch_norm:
                x = getattr(self, f"norm{i}")(x)
            x = torch.max_pool2d(torch.relu(x), 2)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1) if self.features else x


encoder = Encoder(2, [4, 6], 3, batch_norm=True, features=True)
for i in range(2):
    randomize_affine(getattr(encoder, f"norm{i}"))
case("encoder_train", encoder, torch.randn(3, 2, 8, 9))
case("encoder_eval", encoder, torch.randn(2, 2, 8, 9), train=False)
case("encoder_map", Encoder(2, [3, 5], 3, batch_norm=False, features=False), torch.randn(2, 2, 9, 8))
