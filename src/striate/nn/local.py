"""LocallyConnected2d: local receptive fields without weight sharing (Goodfellow et al. 2016)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import DEFAULT_DTYPE
from ..kernels.conv_geometry import out_size
from ..ops.checks import pair
from ..ops.local import locally_connected2d
from . import init
from .module import Module, Parameter


class LocallyConnected2d(Module):
    """Locally connected layer (``F.locally_connected2d``): a convolution without weight sharing.

        out[n, o, i, j] = b[o, i, j] + Σ_{c, p, q} W[i, j, o, c, p, q] · x̃[n, c, i·s + p, j·s + q]

    One (out_channels, in_channels, kh, kw) filter bank per output position, so the layer needs
    the ``input_size`` (H, W) to know how many.

    Args:
        in_channels: C.
        out_channels: O.
        input_size: (H, W) of the input, an int or a pair.
        kernel_size: (kh, kw), an int or a pair.
        stride: an int or a pair.
        padding: an int or a pair of zeros added on each side.
        bias: learn a bias per output unit.
        dtype: the parameters' dtype.
        generator: a NumPy generator for the initial weights (default: the global one).

    Attributes:
        weight: (Ho, Wo, O, C, kh, kw), position-major so that each position's bank is one
            contiguous matrix; drawn from U(±1/√(C·kh·kw)), as ``Conv2d``'s.
        bias: (O, Ho, Wo), one value per output unit, likewise, or None.

    Shape:
        Input (N, C, H, W); output (N, O, Ho, Wo), Ho = ⌊(H + 2·padding − kh) / stride⌋ + 1.

    Backward:
        Each position is its own matrix product on its unfolded window: its weight gradient
        correlates that window with the output gradient, and the window gradients are folded
        back onto the input where windows overlap.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.5;
        Taigman, Yang, Ranzato & Wolf 2014, "DeepFace: closing the gap to human-level
        performance in face verification".
    """

    def __init__(self, in_channels: int, out_channels: int, input_size: Any, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, bias: bool = True, dtype: Any = None,
                 generator: np.random.Generator | None = None):
        super().__init__()
        name = type(self).__name__
        for arg, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {n!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size = pair(name, "input_size", input_size, minimum=1)
        self.kernel_size = pair(name, "kernel_size", kernel_size, minimum=1)
        self.stride = pair(name, "stride", stride, minimum=1)
        self.padding = pair(name, "padding", padding, minimum=0)
        pads = tuple((p, p) for p in self.padding)
        self.output_size = out_size(self.input_size, self.kernel_size, self.stride, pads, (1, 1))
        if min(self.output_size) < 1:
            raise ValueError(f"{name}: input_size {self.input_size} with padding "
                             f"{self.padding} is smaller than kernel_size {self.kernel_size}")
        dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        shape = (*self.output_size, out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels, *self.output_size), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        init.uniform_(self.weight, -bound, bound, generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, input: Any) -> Any:
        return locally_connected2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s
