"""All-CNN-C (Springenberg et al. 2015): pooling replaced by stride-2 convolutions.

    input → dropout 0.2 →
    conv3×3 96 → ReLU → conv3×3 96 → ReLU → conv3×3 96 stride 2 → ReLU → dropout 0.5 →
    conv3×3 192 → ReLU → conv3×3 192 → ReLU → conv3×3 192 stride 2 → ReLU → dropout 0.5 →
    conv3×3 192 (no padding) → ReLU → conv1×1 192 → ReLU → conv1×1 classes [→ ReLU] →
    global average → logits

The 3×3 convs pad by 1 except the seventh; 1,369,738 parameters for 3 input channels and 10
classes.  A 32×32 input ends in 6×6 maps, a 28×28 one in 5×5; ``input_size`` must be at least 9
so the unpadded conv has a 3×3 window.  The paper also rectifies the class maps before the
average; that ReLU is off by default (``final_relu=True`` restores it) because a class whose
maps all turn negative gets no gradient again, and in our runs Adam then could not fit even 8
random images; without it the loss falls 10× (tests/models/test_models_train.py).
Keys: ``features.N`` (N = the index in the Sequential, dropout and ReLU layers included:
``features.1``, ``.3``, ``.5``, ``.8``, ``.10``, ``.12``, ``.15``, ``.17``, ``.19``).
Initialisation: conv ~ kaiming_normal_(fan_in, relu), bias 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._init import check_size, init_weights


class AllConvNet(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
                 dropout: float = 0.5, input_dropout: float = 0.2, final_relu: bool = False,
                 generator: np.random.Generator | None = None):
        super().__init__()
        self.input_size = check_size("allconv", "input_size", input_size, minimum=9)
        g = generator

        def conv(i: int, o: int, k: int = 3, stride: int = 1, padding: int = 1) -> nn.Conv2d:
            return nn.Conv2d(i, o, k, stride=stride, padding=padding, generator=g)

        self.features = nn.Sequential(
            nn.Dropout(input_dropout),
            conv(in_channels, 96), nn.ReLU(), conv(96, 96), nn.ReLU(),
            conv(96, 96, stride=2), nn.ReLU(), nn.Dropout(dropout),
            conv(96, 192), nn.ReLU(), conv(192, 192), nn.ReLU(),
            conv(192, 192, stride=2), nn.ReLU(), nn.Dropout(dropout),
            conv(192, 192, padding=0), nn.ReLU(), conv(192, 192, 1, padding=0), nn.ReLU(),
            conv(192, num_classes, 1, padding=0),
        )
        if final_relu:
            self.features.append(nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        init_weights(self, conv_mode="fan_in", generator=g)

    def forward(self, x: Any) -> Any:
        return self.avgpool(self.features(x)).flatten(1)


def allconv(num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
            **kwargs: Any) -> AllConvNet:
    """All-CNN-C; ``kwargs``: ``dropout`` (0.5), ``input_dropout`` (0.2), ``final_relu``
    (False), ``generator``."""
    return AllConvNet(num_classes, in_channels, input_size, **kwargs)
