"""DenseNets (Huang et al. 2017): DenseNet-121 for ImageNet and DenseNet-BC for small images.

A dense layer is BN → ReLU → 1×1 conv (bn_size·k maps) → BN → ReLU → 3×3 conv (k maps), and its
k new maps are concatenated to everything before it in the block; a transition is BN → ReLU →
1×1 conv (compressing the maps by ``compression``) → 2×2 average pool.  After the last block come
BN → ReLU → global average pool → Linear.

``densenet121``: torchvision's model and keys (stem 7×7/2 conv + 3×3/2 max pool, blocks 6-12-24-16,
k = 32, 64 initial maps; 7,978,856 parameters for 1000 classes).
``densenet_bc(depth, growth_rate)``: the CIFAR DenseNet-BC, three blocks of (depth − 4)/6 dense
layers, a 3×3 stem conv to 2k maps, compression 0.5 (769,162 parameters for depth 100, k = 12,
10 classes).  It reuses torchvision's key names (``features.conv0``, ``features.denseblock1
.denselayer1.norm1``, …, ``features.norm5``, ``classifier``).
Initialisation as torchvision: conv ~ kaiming_normal_(fan_in, relu), BN γ = 1, β = 0, Linear
bias 0.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ._init import check_input_size, check_size, init_weights

Generator = np.random.Generator | None


class DenseLayer(nn.Module):
    """BN → ReLU → conv1×1 → BN → ReLU → conv3×3 on the concatenation of all earlier maps."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float = 0.0, generator: Generator = None):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, width, 1, bias=False, generator=generator)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False,
                               generator=generator)
        self.dropout = nn.Dropout(drop_rate)
        self.drop_rate = drop_rate

    def forward(self, x: Any) -> Any:
        """The k new maps from x, the concatenation of every earlier map of the block."""
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return self.dropout(x) if self.drop_rate > 0 else x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers named ``denselayer1``…, each fed the concatenation of the
    block's input and every earlier layer's maps; returns all of them concatenated."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int, drop_rate: float = 0.0, generator: Generator = None):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(
                num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate,
                generator))
        self.out_channels = num_input_features + num_layers * growth_rate

    def forward(self, x: Any) -> Any:
        maps = F.GrowingCat(x, self.out_channels)  # cat(x, f₁, …) in one buffer, no copies
        for layer in self.values():
            maps.append(layer(maps.tensor))
        return maps.tensor


class Transition(nn.Sequential):
    """BN → ReLU → conv1×1 → 2×2 average pool, keys ``norm``, ``conv``."""

    def __init__(self, num_input_features: int, num_output_features: int,
                 generator: Generator = None):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)),
            ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False,
                               generator=generator)),
            ("pool", nn.AvgPool2d(2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """``small_input``: a 3×3 stem conv without pooling (CIFAR); otherwise torchvision's stem."""

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3, compression: float = 0.5,
                 small_input: bool = False, generator: Generator = None):
        super().__init__()
        g = generator
        if small_input:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 3, padding=1,
                                        bias=False, generator=g))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3,
                                        bias=False, generator=g)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU()),
                    ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]
        self.features = nn.Sequential(OrderedDict(stem))
        n = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(
                num_layers, n, bn_size, growth_rate, drop_rate, g))
            n += num_layers * growth_rate
            if i != len(block_config) - 1:
                out = int(n * compression)
                self.features.add_module(f"transition{i + 1}", Transition(n, out, g))
                n = out
        self.features.add_module("norm5", nn.BatchNorm2d(n))
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(n, num_classes, generator=g)
        init_weights(self, conv_mode="fan_in", generator=g)

    def forward(self, x: Any) -> Any:
        x = self.relu(self.features(x))
        return self.classifier(self.avgpool(x).flatten(1))


def densenet121(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
                **kwargs: Any) -> DenseNet:
    """torchvision's DenseNet-121 (inputs down to 29×29); ``kwargs``: ``drop_rate`` (0),
    ``generator``."""
    check_input_size("densenet121", input_size, 29)
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, in_channels=in_channels,
                    **kwargs)


def densenet_bc(depth: int = 100, growth_rate: int = 12, num_classes: int = 10,
                in_channels: int = 3, input_size: int = 32, **kwargs: Any) -> DenseNet:
    """CIFAR DenseNet-BC: depth = 6n + 4 (n dense layers per block), compression 0.5.

    ``input_size`` must be at least 4 (two 2×2 average pools); ``kwargs``: ``drop_rate``,
    ``generator``.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"densenet_bc: depth must be 6n + 4 with n >= 1, got {depth!r}")
    check_size("densenet_bc", "growth_rate", growth_rate)
    check_size("densenet_bc", "input_size", input_size, minimum=4)
    n = (depth - 4) // 6
    return DenseNet(growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes,
                    in_channels=in_channels, small_input=True, **kwargs)
