"""AlexNet (Krizhevsky et al. 2012) in torchvision's single-GPU form (61,100,840 parameters).

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
from ._init import check_input_size


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
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096, generator=g), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096, generator=g), nn.ReLU(),
            nn.Linear(4096, num_classes, generator=g),
        )

    def forward(self, x: Any) -> Any:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, input_size: int | None = None,
            **kwargs: Any) -> AlexNet:
    """torchvision's AlexNet; ``kwargs``: ``dropout`` (0.5), ``generator``."""
    check_input_size("alexnet", input_size, 63)
    return AlexNet(num_classes, in_channels, **kwargs)
