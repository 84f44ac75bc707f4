"""MobileNet v1 (Howard et al. 2017): a 3×3 conv then 13 depthwise separable convolutions.

Each separable block is a depthwise 3×3 conv (``groups`` = channels) → BN → ReLU → pointwise
1×1 conv → BN → ReLU; every conv has no bias.  Width 1.0 gives 4,231,976 parameters for 1000
classes; ``width_mult`` scales every layer's maps (rounded down, at least 8).  Five stride-2
stages divide the input by 32 and a global average pool follows, so any input size works
(32×32 ends in 1×1 maps).

torchvision has no MobileNet v1; the keys here are ``features.0.{0,1}`` (stem conv, BN),
``features.i.{0,1,3,4}`` (depthwise conv, BN, pointwise conv, BN) for i = 1…13, and ``fc``.
Initialisation as torchvision's MobileNet v2: conv ~ kaiming_normal_(fan_out), BN γ = 1, β = 0,
Linear ~ N(0, 0.01²), bias 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._init import check_input_size, init_weights

Generator = np.random.Generator | None

# (output maps, stride) of the 13 depthwise separable blocks, after a 32-map stride-2 stem.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def conv_bn(inp: int, out: int, stride: int, generator: Generator = None) -> nn.Sequential:
    """3×3 conv → BN → ReLU (the stem)."""
    return nn.Sequential(
        nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False, generator=generator),
        nn.BatchNorm2d(out), nn.ReLU())


def conv_dw(inp: int, out: int, stride: int, generator: Generator = None) -> nn.Sequential:
    """Depthwise 3×3 conv → BN → ReLU → pointwise 1×1 conv → BN → ReLU."""
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride=stride, padding=1, groups=inp, bias=False,
                  generator=generator),
        nn.BatchNorm2d(inp), nn.ReLU(),
        nn.Conv2d(inp, out, 1, bias=False, generator=generator),
        nn.BatchNorm2d(out), nn.ReLU())


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 generator: Generator = None):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"mobilenet_v1: width_mult must be > 0, got {width_mult!r}")

        def width(c: int) -> int:
            return max(8, int(c * width_mult))

        g = generator
        layers = [conv_bn(in_channels, width(32), 2, g)]
        inp = width(32)
        for out, stride in BLOCKS:
            layers.append(conv_dw(inp, width(out), stride, g))
            inp = width(out)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inp, num_classes, generator=g)
        init_weights(self, conv_mode="fan_out", linear_std=0.01, generator=g)

    def forward(self, x: Any) -> Any:
        return self.fc(self.avgpool(self.features(x)).flatten(1))


def mobilenet_v1(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
                 **kwargs: Any) -> MobileNetV1:
    """MobileNet v1 (any input size); ``kwargs``: ``width_mult`` (1.0), ``generator``."""
    check_input_size("mobilenet_v1", input_size, 1)
    return MobileNetV1(num_classes, in_channels, **kwargs)
