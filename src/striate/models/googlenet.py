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
    """Four branches concatenated on channels: 1×1; 1×1 → 3×3; 1×1 → 3×3; max pool → 1×1."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int, generator: Generator = None):
        super().__init__()
        g = generator
        self.branch1 = BasicConv2d(in_channels, ch1x1, g, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, g, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, g, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, g, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, g, kernel_size=3, padding=1))  # 3×3 as torchvision
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, g, kernel_size=1))

    def forward(self, x: Any) -> Any:
        return F.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary head: 4×4 average → 1×1 conv (128) → fc 2048-1024 → ReLU → dropout → fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7,
                 generator: Generator = None):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, generator, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024, generator=generator)
        self.fc2 = nn.Linear(1024, num_classes, generator=generator)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Any) -> Any:
        x = self.conv(self.pool(x)).flatten(1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7, generator: Generator = None):
        super().__init__()
        g = generator
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(in_channels, 64, g, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, g, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, g, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, g)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, g)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, g)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, g)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, g)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, g)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, g)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, g)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, g)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux, g)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux, g)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes, generator=g)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.normal_(m.weight, 0.0, 0.01, g)

    def forward(self, x: Any) -> Any:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
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
