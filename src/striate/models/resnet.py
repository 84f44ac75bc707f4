"""ImageNet ResNets (He et al. 2016): ResNet-18/34 (basic blocks), ResNet-50/101/152
(bottlenecks), with torchvision's structure, initialisation and state_dict keys.

Parameter counts for 1000 classes: 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 /
60,192,808.  The stride sits on the bottleneck's 3×3 conv (torchvision's "v1.5").  The global
``AdaptiveAvgPool2d`` lets any input size through (``input_size`` is accepted and checked to
be positive); the stem and the four stages divide it by 32, so a 32×32 input ends in 1×1 maps.

``block_variant='seed000'`` builds the residual module as the CNN chapter of Epelbaum, "Deep
learning: Technical introduction" (2017) draws it: batch norm after each ReLU and the last ReLU
before the addition, so a bottleneck computes y = x + BN₃(ReLU(conv₃(BN₂(ReLU(conv₂(BN₁(ReLU(conv₁
x)))))))) with nothing after the sum (the basic block likewise with two convs).  Its keys equal the
standard blocks', so weights load either way (with different meaning); ``fuse_conv_bn`` leaves those
BNs alone since they follow a ReLU, not a conv.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._init import check_input_size, init_weights

Generator = np.random.Generator | None
VARIANTS = ("standard", "seed000")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1,
            generator: Generator = None) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False,
                     generator=generator)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1,
            generator: Generator = None) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False, generator=generator)


class _Residual(nn.Module):
    """Shared forward of both blocks: a chain of (conv, bn) pairs plus a shortcut."""

    names: tuple[tuple[str, str], ...] = ()

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        layers = [(getattr(self, conv), getattr(self, bn)) for conv, bn in self.names]
        out = x
        if self.variant == "seed000":  # conv → ReLU → BN, every stage; the sum last
            for conv, bn in layers:
                out = bn(self.relu(conv(out)))
            return out + identity
        for conv, bn in layers[:-1]:  # conv → BN → ReLU, the last ReLU after the sum
            out = self.relu(bn(conv(out)))
        conv, bn = layers[-1]
        return self.relu(bn(conv(out)) + identity)


class BasicBlock(_Residual):
    """Two 3×3 convs (the first strided) with BN, plus the shortcut."""

    expansion = 1
    names = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, variant: str = "standard",
                 generator: Generator = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, generator)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes, 1, generator)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride, self.variant = stride, variant


class Bottleneck(_Residual):
    """1×1 reduce → 3×3 (strided) → 1×1 expand by 4, with BN, plus the shortcut."""

    expansion = 4
    names = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, variant: str = "standard",
                 generator: Generator = None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes, 1, generator)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, generator)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion, 1, generator)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride, self.variant = stride, variant


class ResNet(nn.Module):
    def __init__(self, block: type[_Residual], layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, zero_init_residual: bool = False,
                 block_variant: str = "standard", generator: Generator = None):
        super().__init__()
        if block_variant not in VARIANTS:
            raise ValueError(f"resnet: block_variant must be one of {VARIANTS}, "
                             f"got {block_variant!r}")
        self.inplanes = 64
        self._variant, self._generator = block_variant, generator
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False,
                               generator=generator)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes, generator=generator)
        init_weights(self, conv_mode="fan_out", zero_bias=False, generator=generator)
        if zero_init_residual:  # each block starts as the identity (Goyal et al. 2017)
            for m in self.modules():
                if isinstance(m, _Residual):
                    nn.init.zeros_(getattr(m, m.names[-1][1]).weight)

    def _make_layer(self, block: type[_Residual], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        g = self._generator
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride, g),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self._variant, g)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, 1, None, self._variant, g)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> ResNet:
    """ResNet-18; ``kwargs``: ``block_variant`` ('standard' | 'seed000'),
    ``zero_init_residual``, ``generator``."""
    check_input_size("resnet", input_size, 1)
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, **kwargs)


def resnet34(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> ResNet:
    """ResNet-34 (basic blocks 3-4-6-3)."""
    check_input_size("resnet", input_size, 1)
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet50(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
             **kwargs: Any) -> ResNet:
    """ResNet-50 (bottlenecks 3-4-6-3)."""
    check_input_size("resnet", input_size, 1)
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet101(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
              **kwargs: Any) -> ResNet:
    """ResNet-101 (bottlenecks 3-4-23-3)."""
    check_input_size("resnet", input_size, 1)
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, **kwargs)


def resnet152(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
              **kwargs: Any) -> ResNet:
    """ResNet-152 (bottlenecks 3-8-36-3)."""
    check_input_size("resnet", input_size, 1)
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, **kwargs)
