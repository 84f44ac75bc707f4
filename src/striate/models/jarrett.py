"""Jarrett et al. 2009, "What is the best multi-stage architecture for object recognition?"
(ICCV 2009): stages of filter bank → rectification → local contrast normalisation → average pool.

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

The paper's full F_CSG stage, filter bank → tanh → gain gᵢ·f → R_abs → N → P_A, with
``activation="tanh", gain=True`` (a learned gain per map, ``features.gain{i}.weight``, starting
at 1), and its random connection tables with ``connections="random"``: output map o of a stage
sees only ``fan_in`` of its C input maps (default ⌈C/4⌉, the paper's 16 of 64), drawn without
replacement from ``numpy.random.default_rng(table_seed)`` and kept as the conv's
``connections`` buffer (O, C) of 0/1, so a checkpoint carries its table.  The convolution uses
W ⊙ table (masked weights get zero gradient and start at zero), so the free parameters are
table.sum()·kh·kw + O per stage while the stored weight keeps its full (O, C, kh, kw) shape.
For the 28×28 defaults with ``connections="random"``: stage 1 (one input map) is full, stage 2
uses 8 of 32 maps, so 1,600 + 32 + (64·8·25 + 64 = 12,864) + 64 + 31,370 = 45,930 free
parameters (with both gains), against 84,330 stored.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ._init import check_size


class TableConv2d(nn.Conv2d):
    """A convolution whose output map o sees only the input maps c with table[o, c] = 1:
    Y = conv2d(X, W ⊙ table), so ∂L/∂W is the full gradient times the table (Jarrett et al.'s
    random connection tables; LeNet-5's C3 is another such table)."""

    def __init__(self, table: np.ndarray, kernel_size: int, padding: int = 0,
                 generator: np.random.Generator | None = None):
        out_channels, in_channels = table.shape
        super().__init__(in_channels, out_channels, kernel_size, padding=padding,
                         generator=generator)
        self.register_buffer("connections", table.astype(self.weight.data.dtype))
        self.weight.data[...] *= self.connections[:, :, None, None]

    def forward(self, input: Any) -> Any:
        mask = self.connections[:, :, None, None]
        return F.conv2d(input, self.weight * mask, self.bias, self.stride, self.padding)

    def free_parameters(self) -> int:
        """Weights the table lets through, plus the biases."""
        kh, kw = self.kernel_size
        return int(self.connections.sum()) * kh * kw + self.out_channels


def random_table(out_channels: int, in_channels: int, fan_in: int,
                 rng: np.random.Generator) -> np.ndarray:
    """(out, in) of 0/1 with ``fan_in`` ones per row, each row's inputs drawn without
    replacement."""
    table = np.zeros((out_channels, in_channels))
    for row in table:
        row[rng.choice(in_channels, fan_in, replace=False)] = 1
    return table


class Jarrett(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 channels: tuple[int, ...] = (32, 64), kernel_sizes: tuple[int, ...] = (7, 5),
                 paddings: tuple[int, ...] | None = None, pool_sizes: tuple[int, ...] = (2, 2),
                 pool_strides: tuple[int, ...] | None = None, lcn_size: int = 9,
                 activation: str = "none", gain: bool = False, connections: str = "full",
                 fan_in: tuple[int, ...] | None = None, table_seed: int = 0,
                 generator: np.random.Generator | None = None):
        super().__init__()
        if activation not in ("none", "tanh"):
            raise ValueError(f"jarrett: activation must be 'none' or 'tanh', got {activation!r}")
        if connections not in ("full", "random"):
            raise ValueError(f"jarrett: connections must be 'full' or 'random', "
                             f"got {connections!r}")
        ins = (in_channels, *channels[:-1])
        fan_in = tuple(-(-c // 4) for c in ins) if fan_in is None else tuple(fan_in)
        if len(fan_in) != len(channels) or any(
                not 1 <= f <= c for f, c in zip(fan_in, ins, strict=True)):
            raise ValueError(f"jarrett: fan_in needs one entry per stage, each between 1 and "
                             f"that stage's input maps {ins}, got {fan_in}")
        tables = np.random.default_rng(table_seed)
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
            conv = (TableConv2d(random_table(out, inp, fan_in[i], tables), k, p, generator)
                    if connections == "random" else
                    nn.Conv2d(inp, out, k, padding=p, generator=generator))
            layers.append((f"conv{i + 1}", conv))
            if activation == "tanh":
                layers.append((f"tanh{i + 1}", nn.Tanh()))
            if gain:
                layers.append((f"gain{i + 1}", nn.Gain(out)))
            layers += [(f"rectify{i + 1}", nn.Rectify()),
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
    ``activation`` ('none' | 'tanh'), ``gain``, ``connections`` ('full' | 'random'),
    ``fan_in``, ``table_seed``, ``generator``.  The paper's F_CSG stage is
    ``activation='tanh', gain=True, connections='random'``."""
    return Jarrett(num_classes, in_channels, input_size, **kwargs)
