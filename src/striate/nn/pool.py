"""Pooling layers: thin Modules over the functional pooling ops, with PyTorch's constructor
arguments, attributes and ``extra_repr``.  None of them has parameters or buffers."""

from __future__ import annotations

from typing import Any

from ..ops.adaptive_pool import adaptive_avg_pool2d, adaptive_max_pool2d
from ..ops.pool import avg_pool2d, gaussian_pool2d, lp_pool2d, max_pool2d
from .module import Module


class MaxPool2d(Module):
    """Max pooling (``F.max_pool2d``): each output is the largest input of its window.

        y[n, c, i, j] = max_{p, q} x̃[n, c, i·s + p·d, j·s + q·d]

    Args:
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        padding: an int or a pair of −∞ added on each side.
        dilation: the spacing of the window's taps.
        return_indices: also return the flat index of each maximum.
        ceil_mode: round the output size up.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out),
        H_out = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1.

    Backward:
        Each output gradient goes whole to the input that was the maximum.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3;
        LeCun et al. 1998, "Gradient-based learning applied to document recognition".
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> Any:
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling (``F.avg_pool2d``): each output is the mean of its window.

        y[n, c, i, j] = (1/D) · Σ_{p, q} x̃[n, c, i·s + p, j·s + q]

    Args:
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        padding: an int or a pair of zeros added on each side.
        ceil_mode: round the output size up.
        count_include_pad: D counts the padding (else only the real inputs).
        divisor_override: D itself, when given.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out),
        H_out = ⌊(H + 2·padding − kh) / stride⌋ + 1.

    Backward:
        Each output gradient is shared evenly, g/D, among its window's inputs.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3;
        LeCun et al. 1998, "Gradient-based learning applied to document recognition".
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> Any:
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(Module):
    """Power-average pooling (``F.lp_pool2d``): y = (Σ_window xᵖ)^(1/p).

    p = 1 is sum pooling, p = 2 L2 pooling; as p grows it tends to max pooling.

    Args:
        norm_type: p.
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        ceil_mode: round the output size up.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out),
        H_out = ⌊(H − kh) / stride⌋ + 1.

    Backward:
        Each input gets y^(1−p) · x^(p−1) times its window's output gradient.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3;
        Sermanet, Chintala & LeCun 2012, "Convolutional neural networks applied to house
        numbers digit classification".
    """

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None,
                 ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> Any:
        return lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``F.adaptive_avg_pool2d``).

        y[n, c, i, j] = mean of x over rows ⌊i·H/H_out⌋ … ⌈(i+1)·H/H_out⌉ − 1, columns likewise

    Args:
        output_size: (H_out, W_out), or an int for both; None in a place keeps that side.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out).

    Backward:
        Each output gradient is shared evenly among its window's inputs.

    References:
        Lin, Chen & Yan 2014, "Network in network" (global average pooling).
    """

    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size (``F.adaptive_max_pool2d``).

        y[n, c, i, j] = max of x over rows ⌊i·H/H_out⌋ … ⌈(i+1)·H/H_out⌉ − 1, columns likewise

    Args:
        output_size: (H_out, W_out), or an int for both; None in a place keeps that side.
        return_indices: also return the flat index of each maximum.

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out).

    Backward:
        Each output gradient goes to the maximum of its window.

    References:
        He, Zhang, Ren & Sun 2015, "Spatial pyramid pooling in deep convolutional networks for
        visual recognition".
    """

    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GaussianPool2d(Module):
    """Gaussian-weighted average pooling (``F.gaussian_pool2d``): nearer pixels count more.

        y[n, c, i, j] = Σ_{p, q} w[p, q] · x̃[n, c, i·s + p, j·s + q],
        w ∝ exp(−(Δp² + Δq²) / 2σ²),  Σ w = 1

    Args:
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        padding: an int or a pair of zeros added on each side.
        sigma: σ in pixels (default: max(kh, kw)/4).

    Shape:
        Input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out),
        H_out = ⌊(H + 2·padding − kh) / stride⌋ + 1.

    Backward:
        Each input receives w[p, q] times the output gradient of every window it sits in.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3 (pooling as a
        weighted summary of a neighbourhood).
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 sigma: float | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.sigma = sigma

    def forward(self, input: Any) -> Any:
        return gaussian_pool2d(input, self.kernel_size, self.stride, self.padding, self.sigma)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"sigma={self.sigma}")
