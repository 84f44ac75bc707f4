"""LeNet-5 (LeCun et al. 1998): two 5×5 convolutions with 6 and 16 maps, then 120-84-classes.

Defaults are the modern form, ReLU and max pooling; ``activation='tanh', pool='avg'`` gives the
classic one (without the paper's trainable subsampling coefficients or its partial C3 wiring:
every C3 map sees all 6 S2 maps).  conv1 pads by ``padding`` = 2, so a 28×28 input has the
paper's 32×32 geometry: 28 → conv 28 → pool 14 → conv 10 → pool 5, and fc1 sees 16·5·5 = 400
features (61,706 parameters for 10 classes).  ``input_size=32, padding=0`` is the paper's own
geometry, with the same count; other sizes change fc1's width.

state_dict keys: ``conv1``, ``conv2``, ``fc1``, ``fc2``, ``fc3`` (``.weight``, ``.bias``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._init import check_size

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Module):
    """conv1 (5×5, pad 2) → act → pool 2 → conv2 (5×5) → act → pool 2 → fc1 → act → fc2 → act
    → fc3."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 activation: str = "relu", pool: str = "max", padding: int = 2,
                 generator: np.random.Generator | None = None):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"lenet5: activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"lenet5: pool must be one of {sorted(_POOLS)}, got {pool!r}")
        check_size("lenet5", "input_size", input_size)
        check_size("lenet5", "padding", padding, minimum=0)
        side = (input_size + 2 * padding - 4) // 2  # after conv1 (5×5) and a 2×2 pool
        side = (side - 4) // 2  # after conv2 and the second pool
        if side < 1:
            raise ValueError(f"lenet5: input_size {input_size} with padding {padding} is too "
                             "small (input_size + 2·padding must be >= 16)")
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=padding, generator=generator)
        self.conv2 = nn.Conv2d(6, 16, 5, generator=generator)
        self.fc1 = nn.Linear(16 * side * side, 120, generator=generator)
        self.fc2 = nn.Linear(120, 84, generator=generator)
        self.fc3 = nn.Linear(84, num_classes, generator=generator)
        self.act = _ACTIVATIONS[activation]()
        self.pool = _POOLS[pool](2)

    def forward(self, x: Any) -> Any:
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = x.flatten(1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


def lenet5(num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
           **kwargs: Any) -> LeNet5:
    """LeNet-5; ``kwargs``: ``activation`` ('relu' | 'tanh'), ``pool`` ('max' | 'avg'),
    ``padding`` of conv1 (2), ``generator``."""
    return LeNet5(num_classes, in_channels, input_size, **kwargs)
