"""VGG (Simonyan & Zisserman 2015), configurations A, B, D, E as torchvision builds them.

Each configuration is a list of 3×3 convolutions (padding 1) with ReLU, optionally batch norm
between conv and ReLU (the ``_bn`` models), and 2×2 max pools ('M').
``AdaptiveAvgPool2d((7, 7))`` then feeds the 25088-4096-4096-classes classifier, so inputs as
small as 32×32 work (``input_size``, if given, is checked against that).  Initialisation is
torchvision's: conv ~ kaiming_normal_(fan_out, relu), bias 0; Linear ~ N(0, 0.01²), bias 0;
BN γ = 1, β = 0.  state_dict keys are torchvision's (``features.N``, ``classifier.{0,3,6}``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._init import check_input_size, init_weights

CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(config: list[int | str], in_channels: int = 3, batch_norm: bool = False,
                generator: np.random.Generator | None = None) -> nn.Sequential:
    """The convolutional part: conv → (BN) → ReLU per number, 2×2 max pool per 'M'."""
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, 3, padding=1, generator=generator))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5,
                 generator: np.random.Generator | None = None):
        super().__init__()
        g = generator
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096, generator=g), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096, generator=g), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes, generator=g),
        )
        init_weights(self, conv_mode="fan_out", linear_std=0.01, generator=g)

    def forward(self, x: Any) -> Any:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(config: str, batch_norm: bool, num_classes: int, in_channels: int,
         input_size: int | None = None, dropout: float = 0.5,
         generator: np.random.Generator | None = None) -> VGG:
    check_input_size("vgg", input_size, 32)  # five 2×2 max pools
    features = make_layers(CONFIGS[config], in_channels, batch_norm, generator)
    return VGG(features, num_classes, dropout, generator)


def vgg11(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
          **kwargs: Any) -> VGG:
    """VGG-11 (configuration A); ``kwargs``: ``dropout`` (0.5), ``generator``."""
    return _vgg("A", False, num_classes, in_channels, input_size, **kwargs)


def vgg13(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
          **kwargs: Any) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("B", False, num_classes, in_channels, input_size, **kwargs)


def vgg16(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
          **kwargs: Any) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg("D", False, num_classes, in_channels, input_size, **kwargs)


def vgg19(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
          **kwargs: Any) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("E", False, num_classes, in_channels, input_size, **kwargs)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> VGG:
    """VGG-11 with batch norm after each convolution."""
    return _vgg("A", True, num_classes, in_channels, input_size, **kwargs)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> VGG:
    """VGG-13 with batch norm after each convolution."""
    return _vgg("B", True, num_classes, in_channels, input_size, **kwargs)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> VGG:
    """VGG-16 with batch norm after each convolution."""
    return _vgg("D", True, num_classes, in_channels, input_size, **kwargs)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> VGG:
    """VGG-19 with batch norm after each convolution."""
    return _vgg("E", True, num_classes, in_channels, input_size, **kwargs)
