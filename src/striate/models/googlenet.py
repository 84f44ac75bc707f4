"""GoogLeNet / Inception v1 (Szegedy et al. 2015) with torchvision's structure and key names.

Every convolution is ``BasicConv2d``: conv (no bias) → BatchNorm (eps 0.001) → ReLU.  As in
torchvision, the "5×5" branch of each Inception module uses a 3×3 convolution and the max pools
round up (``ceil_mode=True``); this gives torchvision's 6,624,904 parameters without the
auxiliary heads and 13,004,888 with them (1000 classes).  The auxiliary classifiers (after
inception4a and inception4d) only run in training mode; ``forward`` then returns
``(logits, aux2, aux1)`` as torchvision's namedtuple does, otherwise the logits alone.
Inputs down to 15×15 work (``input_size``, if given, is checked against that).
Initialisation: conv and Linear weights ~ N(0, 0.01²) (torchvision's truncation at ±2 never
bites at that scale), Linear biases keep PyTorch's default, BN γ = 1, β = 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ..nn import init
from ._init import check_input_size

Generator = np.random.Generator | None


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, generator: Generator = None,
                 **kwargs: Any):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, generator=generator,
                              **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches concatenated on channels: 1×1; 1×1 → 3×3; 1×1 → "5×5"; max pool → 1×1.

    ``conv`` builds each convolution unit and ``wide`` is the "5×5" branch's kernel (3, as
    torchvision; the paper's own form passes 5).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int, generator: Generator = None,
                 conv: Callable[..., nn.Module] = BasicConv2d, wide: int = 3):
        super().__init__()
        g = generator
        self.branch1 = conv(in_channels, ch1x1, g, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv(in_channels, ch3x3red, g, kernel_size=1),
            conv(ch3x3red, ch3x3, g, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            conv(in_channels, ch5x5red, g, kernel_size=1),
            conv(ch5x5red, ch5x5, g, kernel_size=wide, padding=wide // 2))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            conv(in_channels, pool_proj, g, kernel_size=1))

    def forward(self, x: Any) -> Any:
        return F.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary head: 4×4 average → 1×1 conv (128) → fc 2048-1024 → ReLU → dropout → fc.

    ``pool`` is torchvision's adaptive 4×4 average unless given (the paper's 5×5/3 average).
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7,
                 generator: Generator = None, conv: Callable[..., nn.Module] = BasicConv2d,
                 pool: nn.Module | None = None):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4)) if pool is None else pool
        self.conv = conv(in_channels, 128, generator, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024, generator=generator)
        self.fc2 = nn.Linear(1024, num_classes, generator=generator)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Any) -> Any:
        x = self.pool(x)
        if tuple(x.shape[2:]) != (4, 4):
            raise ValueError(f"{type(self).__name__}: the auxiliary head needs a 4×4 map after "
                             f"its pooling (a 224×224 input), got {tuple(x.shape[2:])}")
        x = self.conv(x).flatten(1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


# The paper's Table 1: (in, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) per module.
TABLE_1 = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    # How a subclass changes the units (see googlenet_original.py): the conv unit, the "5×5"
    # kernel and the auxiliary heads' pooling.
    conv_unit: Callable[..., nn.Module] = BasicConv2d
    wide = 3

    def aux_pool(self) -> nn.Module | None:
        return None

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7, generator: Generator = None):
        super().__init__()
        g, unit = generator, type(self).conv_unit
        self.aux_logits = aux_logits
        self.conv1 = unit(in_channels, 64, g, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = unit(64, 64, g, kernel_size=1)
        self.conv3 = unit(64, 192, g, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, spec in TABLE_1.items():
            setattr(self, name, Inception(*spec, g, conv=unit, wide=self.wide))
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "inception4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux, g, unit, self.aux_pool())
            self.aux2 = InceptionAux(528, num_classes, dropout_aux, g, unit, self.aux_pool())
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes, generator=g)
        self.reset_weights(g)

    def reset_weights(self, generator: Generator = None) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.normal_(m.weight, 0.0, 0.01, generator)

    def stem(self, x: Any) -> Any:
        x = self.maxpool1(self.conv1(x))
        return self.maxpool2(self.conv3(self.conv2(x)))

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        heads = self.aux_logits and self.training
        aux1 = self.aux1(x) if heads else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if heads else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        return (x, aux2, aux1) if heads else x


def googlenet(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
              **kwargs: Any) -> GoogLeNet:
    """torchvision's GoogLeNet; ``kwargs``: ``aux_logits`` (False), ``dropout`` (0.2),
    ``dropout_aux`` (0.7), ``generator``."""
    check_input_size("googlenet", input_size, 15)
    return GoogLeNet(num_classes, in_channels, **kwargs)
