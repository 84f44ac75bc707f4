"""Jarrett et al. 2009, "What is the best multi-stage architecture for object recognition?"
(seed 001): stages of filter bank → rectification → local contrast normalisation → average pool.

Each stage is conv → R_abs (|x|, ``nn.Rectify``) → LCN (subtractive then divisive, Gaussian
window; ``nn.LocalContrastNorm``) → P_A (average pool), the paper's F_CSG−R_abs−N−P_A without the
tanh and gain of F_CSG.  Two stages, then a Linear classifier on the flattened maps (the paper's
supervised top layer).  The defaults are sized for 28×28 images (Fashion-MNIST):

    1×28×28 → conv 7×7 (pad 3) 32 → |·| → LCN 9×9 → avg 2×2 → 32×14×14
            → conv 5×5 (pad 2) 64 → |·| → LCN 9×9 → avg 2×2 → 64×7×7 → Linear 3136 → classes

84,234 parameters for 1 input channel and 10 classes (1,600 + 51,264 + 31,370).  With no batch
norm before the 3,136-wide classifier it wants a smaller learning rate than the other models:
``striate train --model jarrett --lr 0.01`` (at the default 0.05 a one-epoch trial on 2,560
Fashion-MNIST images ended with a training loss of 49; at 0.01, 0.39 after two epochs on 5,000).
The paper's Caltech-101 model (64 9×9 filters, 10×10 pools with stride 5, 256 filters, 143×143
input) is ``jarrett(101, 1, 143, channels=(64, 256), kernel_sizes=(9, 9), pool_sizes=(10, 6),
pool_strides=(5, 4), paddings=(0, 0))`` with full instead of random connections.
Keys: ``features.conv1``, ``features.conv2`` (``.weight``, ``.bias``) and ``classifier``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .. import nn
from ._init import check_size


class Jarrett(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 channels: tuple[int, ...] = (32, 64), kernel_sizes: tuple[int, ...] = (7, 5),
                 paddings: tuple[int, ...] | None = None, pool_sizes: tuple[int, ...] = (2, 2),
                 pool_strides: tuple[int, ...] | None = None, lcn_size: int = 9,
                 generator: np.random.Generator | None = None):
        super().__init__()
        stages = len(channels)
        paddings = tuple(k // 2 for k in kernel_sizes) if paddings is None else paddings
        pool_strides = pool_sizes if pool_strides is None else pool_strides
        if not stages or any(len(t) != stages for t in (kernel_sizes, paddings, pool_sizes,
                                                        pool_strides)):
            raise ValueError("jarrett: channels, kernel_sizes, paddings, pool_sizes and "
                             "pool_strides need one entry per stage")
        side = check_size("jarrett", "input_size", input_size)
        layers: list[tuple[str, nn.Module]] = []
        inp = in_channels
        for i, (out, k, p, ps, st) in enumerate(zip(channels, kernel_sizes, paddings,
                                                    pool_sizes, pool_strides, strict=True)):
            side = side + 2 * p - k + 1
            side = (side - ps) // st + 1
            if side < 1:
                raise ValueError(f"jarrett: input_size {input_size} is too small for stage "
                                 f"{i + 1} (conv {k}, pad {p}, pool {ps}/{st})")
            layers += [(f"conv{i + 1}", nn.Conv2d(inp, out, k, padding=p, generator=generator)),
                       (f"rectify{i + 1}", nn.Rectify()),
                       (f"lcn{i + 1}", nn.LocalContrastNorm(lcn_size)),
                       (f"pool{i + 1}", nn.AvgPool2d(ps, stride=st))]
            inp = out
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(inp * side * side, num_classes, generator=generator)

    def forward(self, x: Any) -> Any:
        return self.classifier(self.features(x).flatten(1))


def jarrett(num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
            **kwargs: Any) -> Jarrett:
    """Two-stage conv → R_abs → LCN → average-pool network; ``kwargs``: ``channels``,
    ``kernel_sizes``, ``paddings``, ``pool_sizes``, ``pool_strides``, ``lcn_size``,
    ``generator``."""
    return Jarrett(num_classes, in_channels, input_size, **kwargs)
