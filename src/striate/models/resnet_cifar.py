"""CIFAR ResNets (He et al. 2016, section 4.2): ResNet-20/32/44/56/110 = 6n + 2 layers.

A 3×3 conv to 16 maps, three stages of n basic blocks with 16, 32, 64 maps (the second and third
start with stride 2), global average pooling and one Linear layer.  Shortcuts are option A,
parameter-free: when a block halves the size and doubles the maps, the identity is subsampled,
``x[:, :, ::2, ::2]``, and zero-padded on the channel axis (half the new channels on each side).
Parameter counts for 10 classes: 269,722 / 464,154 / 658,586 / 853,018 / 1,727,962.
``input_size`` only has to be positive: the global average pool takes any size (28 for
Fashion-MNIST, 32 for CIFAR).  Keys: ``conv1``, ``bn1``, ``layer{1,2,3}.i.{conv,bn}{1,2}``, ``fc``.
Initialisation: conv ~ kaiming_normal_(fan_out, relu), BN γ = 1, β = 0, Linear PyTorch's default.
``block_variant='seed000'`` orders each block as Epelbaum, "Deep learning: Technical introduction"
(2017) draws it (BN after each ReLU, the last
ReLU before the addition, nothing after the sum), exactly as the ImageNet ResNets' option of that
name (the block is theirs, ``resnet.BasicBlock``); the keys are the same either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ._init import check_size, init_weights
from .resnet import VARIANTS, BasicBlock, conv3x3

Generator = np.random.Generator | None


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and zero-pad the channels up to ``planes``."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride = stride
        extra = planes - in_planes
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: Any) -> Any:
        s = self.stride
        return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, *self.pad))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad={self.pad}"


class CifarBasicBlock(BasicBlock):
    """The ImageNet basic block (conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then
    ReLU; or the ``seed000`` order) with the parameter-free option A shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1,
                 generator: Generator = None, variant: str = "standard"):
        shortcut = (PadShortcut(in_planes, planes, stride)
                    if stride != 1 or in_planes != planes else None)
        super().__init__(in_planes, planes, stride, shortcut, variant, generator)


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3,
                 input_size: int = 32, block_variant: str = "standard",
                 generator: Generator = None):
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 \
                or (depth - 2) % 6:
            raise ValueError(f"resnet_cifar: depth must be 6n + 2 with n >= 1, got {depth!r}")
        if block_variant not in VARIANTS:
            raise ValueError(f"resnet_cifar: block_variant must be one of {VARIANTS}, "
                             f"got {block_variant!r}")
        self._variant = block_variant
        self.input_size = check_size("resnet_cifar", "input_size", input_size)
        n = (depth - 2) // 6
        g = generator
        self.conv1 = conv3x3(in_channels, 16, 1, g)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(16, 16, n, 1, g)
        self.layer2 = self._stage(16, 32, n, 2, g)
        self.layer3 = self._stage(32, 64, n, 2, g)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes, generator=g)
        init_weights(self, conv_mode="fan_out", zero_bias=False, generator=g)

    def _stage(self, in_planes: int, planes: int, blocks: int, stride: int,
               generator: Generator) -> nn.Sequential:
        v = self._variant
        layers = [CifarBasicBlock(in_planes, planes, stride, generator, v)]
        layers += [CifarBasicBlock(planes, planes, 1, generator, v) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet20(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
             **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-20 (n = 3); ``kwargs``: ``block_variant`` ('standard' | 'seed000'),
    ``generator``."""
    return CifarResNet(20, num_classes, in_channels, input_size, **kwargs)


def resnet32(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
             **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-32 (n = 5)."""
    return CifarResNet(32, num_classes, in_channels, input_size, **kwargs)


def resnet44(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
             **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-44 (n = 7)."""
    return CifarResNet(44, num_classes, in_channels, input_size, **kwargs)


def resnet56(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
             **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-56 (n = 9)."""
    return CifarResNet(56, num_classes, in_channels, input_size, **kwargs)


def resnet110(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
              **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-110 (n = 18)."""
    return CifarResNet(110, num_classes, in_channels, input_size, **kwargs)
