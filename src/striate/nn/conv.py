"""Conv2d and ConvTranspose2d layers, with PyTorch's arguments, attributes, init and repr."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import DEFAULT_DTYPE
from ..ops.checks import pair
from ..ops.conv import conv2d, conv_transpose2d
from . import init
from .module import Module, Parameter


class _ConvNd(Module):
    """What both layers share: argument checks, parameters, PyTorch's default init and repr.

    ``weight`` is (out, in/groups, kh, kw) for a convolution and (in, out/groups, kh, kw) for a
    transposed one; both are drawn from U(±1/√fan_in) with fan_in = weight.shape[1]·kh·kw
    (kaiming_uniform_ with a = √5, PyTorch's convention, so for ConvTranspose2d it is
    out/groups·kh·kw), and the bias from U(±1/√fan_in) likewise.
    """

    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 output_padding: Any, device: Any, dtype: Any,
                 generator: np.random.Generator | None):
        super().__init__()
        name = type(self).__name__
        for arg, n in (("in_channels", in_channels), ("out_channels", out_channels),
                       ("groups", groups)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {n!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode {padding_mode!r} is not supported; "
                             "only 'zeros'")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(name, "kernel_size", kernel_size, minimum=1)
        self.stride = pair(name, "stride", stride, minimum=1)
        self.dilation = pair(name, "dilation", dilation, minimum=1)
        self.output_padding = pair(name, "output_padding", output_padding, minimum=0)
        if isinstance(padding, str):
            if self.transposed or padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int or a pair"
                                 + ("" if self.transposed else ", 'same' or 'valid'")
                                 + f", got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")
            self.padding = padding
        else:
            self.padding = pair(name, "padding", padding, minimum=0)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)
        if device is not None:
            self.to(device)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.default_(self.weight, self.bias, generator)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: C_out learned filters slid over the input (``F.conv2d``).

        out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ input[n, c]     (⋆: 2-D cross-correlation)

    Args:
        in_channels, out_channels: C_in and C_out (both divisible by ``groups``).
        kernel_size, stride, padding, dilation: an int or an (h, w) pair; ``padding`` may be
            'valid' or 'same' (stride 1).
        groups: split the channels into independent groups; bias: learn a bias per map.
        generator: a NumPy generator for the initial weights (reproducible runs).

    Attributes:
        weight: (C_out, C_in/groups, kh, kw), bias: (C_out,), both drawn from U(±1/√fan_in),
            fan_in = C_in/groups·kh·kw (PyTorch's default).

    Shape:
        input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out),
        H_out = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1, W_out likewise.

    Backward:
        The input gradient is the transposed convolution of the output gradient with the same
        weight; the weight gradient correlates the input with the output gradient; the bias
        gradient sums it over batch and positions (see ``F.conv2d``).

    References:
        LeCun et al. 1998, "Gradient-based learning applied to document recognition";
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 9.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None,
                 generator: np.random.Generator | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype, generator)

    def forward(self, input: Any) -> Any:
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer, the adjoint of ``Conv2d`` (``F.conv_transpose2d``).

    Each input pixel scatters its kernel, scaled by its value, into the output: it maps a
    conv2d's output shape back to its input shape, e.g. to upsample in a decoder.

    ``forward(input, output_size=None)``: an ``output_size`` (H, W) — or a shape ending in it —
    picks the output padding that reaches that size, as in PyTorch; it must lie between the
    smallest size and that plus stride − 1.

    Attributes:
        weight: (C_in, C_out/groups, kh, kw), bias: (C_out,).

    Shape:
        input (N, C_in, H, W); output (N, C_out, H_out, W_out),
        H_out = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1.

    Backward:
        The input gradient is ``conv2d`` of the output gradient with the same weight.

    References:
        Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning";
        Zeiler et al., CVPR 2010, "Deconvolutional Networks".
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None, generator: np.random.Generator | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype, generator)

    def _output_padding(self, input: Any, output_size: Sequence[int] | None) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(n) for n in output_size)[-2:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must end in (H, W), got {output_size}")
        padding = []
        for axis, want in enumerate(size):
            n, s, p = input.shape[-2 + axis], self.stride[axis], self.padding[axis]
            d, k = self.dilation[axis], self.kernel_size[axis]
            smallest = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want < smallest + s:
                raise ValueError(
                    f"ConvTranspose2d: requested output size {size} is not reachable from input "
                    f"shape {tuple(input.shape)}: each side must lie in [smallest, smallest + "
                    f"stride − 1] = [{smallest}, {smallest + s - 1}]")
            padding.append(want - smallest)
        return padding[0], padding[1]

    def forward(self, input: Any, output_size: Sequence[int] | None = None) -> Any:
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups,
                                self.dilation)
