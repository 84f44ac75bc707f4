"""PyTorch twins of the published forms of the classic nets: AlexNet and GoogLeNet as
published, the CIFAR ResNets with Epelbaum's (2017) block order and Jarrett's full F_CSG stage; see
``torch_twins`` for how they are used (only to compare with PyTorch; importing this module
imports torch).

Each is the torchvision-form twin of ``torch_twins`` with the published parts swapped in, so
the shared structure (and its ``state_dict`` keys) is written once."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from . import torch_twins as base
from . import torch_twins_extra as extra


class AlexNetOriginal(base.AlexNet):
    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__(num_classes, in_channels, dropout)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, 4), nn.ReLU(),
            nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(),
            nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))


class ConvReLU(nn.Module):
    """The paper's unit, conv (with bias) → ReLU, in place of BasicConv2d (same conv)."""

    def __init__(self, basic, kernel=None):
        super().__init__()
        c = basic.conv
        k = c.kernel_size if kernel is None else (kernel, kernel)
        pad = c.padding if kernel is None else (kernel // 2, kernel // 2)
        self.conv = nn.Conv2d(c.in_channels, c.out_channels, k, c.stride, pad)

    def forward(self, x):
        return F.relu(self.conv(x))


class AuxOriginal(base.InceptionAux):
    def forward(self, x):  # the paper's 5×5 / 3 average pool instead of an adaptive 4×4
        x = self.conv(F.avg_pool2d(x, 5, 3)).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


def _swap_units(module):
    for name, child in module.named_children():
        if isinstance(child, base.BasicConv2d):
            setattr(module, name, ConvReLU(child))
        else:
            _swap_units(child)


class GoogLeNetOriginal(base.GoogLeNet):
    def __init__(self, num_classes=1000, in_channels=3, aux_logits=False, dropout=0.4,
                 dropout_aux=0.7):
        super().__init__(num_classes, in_channels, aux_logits, dropout, dropout_aux)
        for m in self.modules():
            if isinstance(m, base.Inception):
                m.branch3[1] = ConvReLU(m.branch3[1], 5)  # the true 5×5
            elif isinstance(m, base.InceptionAux):
                m.__class__ = AuxOriginal
        _swap_units(self)
        lrn = nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)  # no parameters: keys are unchanged
        self.maxpool1 = nn.Sequential(self.maxpool1, lrn)  # pool → LRN
        self.maxpool2 = nn.Sequential(lrn, self.maxpool2)  # conv3 → LRN → pool


class CifarBlockSeed000(base.CifarBlock):
    """Epelbaum's (2017) order: y = shortcut(x) + BN2(ReLU(conv2(BN1(ReLU(conv1 x))))), no
    final ReLU."""

    def forward(self, x):
        out = self.bn2(F.relu(self.conv2(self.bn1(F.relu(self.conv1(x))))))
        if self.stride != 1 or self.extra:
            e = self.extra
            x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, e // 2, e - e // 2))
        return out + x


def cifar_resnet(depth, block_variant="standard", **kwargs):
    """The CIFAR ResNet twin, its blocks in Epelbaum's (2017) order when asked."""
    model = base.CifarResNet(depth, **kwargs)
    if block_variant == "seed000":
        for m in model.modules():
            if isinstance(m, base.CifarBlock):
                m.__class__ = CifarBlockSeed000
    return model


class TableConv2d(nn.Conv2d):
    """conv2d(x, W ⊙ table): Jarrett's connection tables (the table arrives with the state)."""

    def __init__(self, cin, cout, k, padding):
        super().__init__(cin, cout, k, padding=padding)
        self.register_buffer("connections", torch.ones(cout, cin))

    def forward(self, x):
        return F.conv2d(x, self.weight * self.connections[:, :, None, None], self.bias,
                        padding=self.padding)


class Gain(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        return x * self.weight[:, None, None]


def jarrett(activation="none", gain=False, connections="full", fan_in=None, table_seed=0,
            **kwargs):
    """Jarrett's network twin; with the F_CSG options, each conv becomes a table conv (its
    table arrives with the state) followed by tanh and a per-map gain, named as striate's."""
    model = extra.Jarrett(**kwargs)
    layers = []
    for name, layer in model.features.named_children():
        if not name.startswith("conv"):
            layers.append((name, layer))
            continue
        i, out = name[4:], layer.out_channels
        if connections == "random":
            layer = TableConv2d(layer.in_channels, out, layer.kernel_size, layer.padding)
        layers.append((name, layer))
        if activation == "tanh":
            layers.append((f"tanh{i}", nn.Tanh()))
        if gain:
            layers.append((f"gain{i}", Gain(out)))
    model.features = nn.Sequential(OrderedDict(layers))
    return model
