"""AlexNet (Krizhevsky et al. 2012) in torchvision's single-GPU form (61,100,840 parameters),
and as published (``alexnet_original``, 60,965,224 parameters: see :class:`AlexNetOriginal`).

torchvision's variant (from "One weird trick", Krizhevsky 2014) has 64-192-384-256-256 maps and
no local response normalisation.  ``AdaptiveAvgPool2d((6, 6))`` before the classifier lets
inputs smaller than 224×224 through, down to 63×63 (where the last max pool has one window);
``input_size``, if given, is checked against that.
state_dict keys are torchvision's: ``features.{0,3,6,8,10}``, ``classifier.{1,4,6}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..nn import init
from ._init import check_input_size


def classifier(num_classes: int, dropout: float, generator: np.random.Generator | None
               ) -> nn.Sequential:
    """Both forms' head: dropout → fc 9216-4096 → ReLU → dropout → fc 4096-4096 → ReLU → fc."""
    g = generator
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096, generator=g), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(4096, 4096, generator=g), nn.ReLU(),
        nn.Linear(4096, num_classes, generator=g),
    )


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 generator: np.random.Generator | None = None):
        super().__init__()
        g = generator
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2, generator=g), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(64, 192, 5, padding=2, generator=g), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(192, 384, 3, padding=1, generator=g), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, generator=g), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1, generator=g), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = classifier(num_classes, dropout, g)

    def forward(self, x: Any) -> Any:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
            **kwargs: Any) -> AlexNet:
    """torchvision's AlexNet; ``kwargs``: ``dropout`` (0.5), ``generator``."""
    check_input_size("alexnet", input_size, 63)
    return AlexNet(num_classes, in_channels, **kwargs)


class AlexNetOriginal(nn.Module):
    """AlexNet as published (Krizhevsky, Sutskever and Hinton 2012), 60,965,224 parameters.

    96-256-384-384-256 maps; conv1 11×11 stride 4; the two-GPU split kept as ``groups=2`` in
    conv2, conv4 and conv5 (the layers whose kernels saw only their own GPU's maps); ReLU then
    local response normalisation b = a / (2 + 10⁻⁴ Σ_{5 maps} a²)^0.75 after conv1 and conv2
    (``LocalResponseNorm(5, alpha=5e-4, k=2)``: PyTorch divides α by the size), then the
    overlapping 3×3 stride-2 max pools; fc 4096-4096 with dropout 0.5.  The paper's 224×224 is
    really 227×227 (55 = (227 − 11) / 4 + 1), the builder's default; ``AdaptiveAvgPool2d((6,
    6))``, the identity there, lets smaller images through (down to 67×67).
    Initialisation as published: weights N(0, 0.01²), biases 1 in conv2, conv4, conv5 and the
    hidden fc layers (to give the ReLUs positive inputs early on), 0 elsewhere.
    Keys: ``features.{0,4,8,10,12}``, ``classifier.{1,4,6}``.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 generator: np.random.Generator | None = None):
        super().__init__()
        g = generator
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, stride=4, generator=g), nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2, generator=g), nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(256, 384, 3, padding=1, generator=g), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2, generator=g), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2, generator=g), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = classifier(num_classes, dropout, g)
        ones = {id(m) for m in (self.features[4], self.features[10], self.features[12],
                                self.classifier[1], self.classifier[4])}
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.normal_(m.weight, 0.0, 0.01, g)
                init.constant_(m.bias, 1.0 if id(m) in ones else 0.0)

    forward = AlexNet.forward


def alexnet_original(num_classes: int = 1000, in_channels: int = 3, input_size: int = 227,
                     **kwargs: Any) -> AlexNetOriginal:
    """The 2012 AlexNet as published; ``kwargs``: ``dropout`` (0.5), ``generator``."""
    check_input_size("alexnet_original", input_size, 67)
    return AlexNetOriginal(num_classes, in_channels, **kwargs)
