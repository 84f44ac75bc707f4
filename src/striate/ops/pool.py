"""Window pooling: max, average, power-average (Lᵖ) and Gaussian-weighted pooling over 2-D windows.

Notation: x is (N, C, H, W) (a (C, H, W) input is treated as a batch of one), x̃ is x padded by
p on each side, and window (oh, ow) covers x̃ at rows oh·s_h + i·d_h and columns ow·s_w + j·d_w
for kernel offsets 0 ≤ i < kh, 0 ≤ j < kw.  The windows themselves live in
``striate.kernels.pool``; this file holds the ops, their backward passes and PyTorch's argument
rules.  The backward of every pooling layer hands the error back as LeCun et al. (1998) do: each
output gradient is handed back to the input pixels that produced the output — all of it to the
maximum for max pooling, shared evenly for average pooling — and pixels in several windows sum what
they receive.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..kernels.gaussian import gaussian_window
from ..kernels.pool import (
    Windows,
    flat_indices,
    max_windows,
    output_size,
    scatter_max,
    scatter_sum,
    sum_windows,
)
from .checks import expect_float, expect_rank, pair


def _batched(x):
    return (x[None], True) if x.ndim == 3 else (x, False)


def _unbatched(y, unbatched: bool):
    return y[0] if unbatched else y


class MaxPool(Function):
    """y[n,c,oh,ow] = max_{i,j} x̃[n,c, oh·s_h + i·d_h, ow·s_w + j·d_w], padding x̃ = −∞.

    Forward keeps, for each window, the offset (i*, j*) of its first maximum (the location of
    the max, kept for backprop).  Backward routes each output gradient to that one pixel:
    ∂L/∂x[n,c,h,w] = Σ_{windows whose argmax is (h, w)} g[n,c,oh,ow] — zero for every other pixel,
    and a sum where overlapping windows (stride < kernel) share their maximum.
    Indices are PyTorch's: h·W + w of the maximum in the unpadded input, as int64.
    """

    name = "max_pool2d"

    @staticmethod
    def forward(ctx: Context, x, win: Windows, return_indices: bool = False):
        x4, unbatched = _batched(x)
        y, arg = max_windows(x4, win)
        if ctx.requires_grad:
            ctx.win, ctx.arg, ctx.unbatched = win, arg, unbatched
        y = _unbatched(y, unbatched)
        if return_indices:
            return y, _unbatched(flat_indices(arg, win), unbatched)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        g4 = g[None] if ctx.unbatched else g
        return _unbatched(scatter_max(g4, ctx.arg, ctx.win), ctx.unbatched)


def window_divisor(win: Windows, count_include_pad: bool, divisor_override: int | None,
                   xp=np, dtype=np.float64):
    """The number each window sum of ``avg_pool2d`` is divided by, as PyTorch counts it.

    A window spans rows [oh·s − p, oh·s − p + k) clipped at the end of the padded input (n + p);
    with ``count_include_pad`` its divisor is that clipped area, padding included, otherwise only
    the part inside the input.  Returns an int when every window has the same divisor, else an
    (OH, OW) array.
    """
    if divisor_override is not None:
        return divisor_override
    sizes = []
    for n, k, s, p, o in zip(win.size, win.kernel, win.stride, win.padding, win.out,
                             strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    div = sizes[0][:, None] * sizes[1][None, :]
    if (div == div.flat[0]).all():
        return int(div.flat[0])
    return xp.asarray(div.astype(dtype))


class AvgPool(Function):
    """y[n,c,oh,ow] = (1/D[oh,ow]) · Σ_{i,j} x̃[n,c, oh·s_h + i, ow·s_w + j], padding x̃ = 0.

    D is :func:`window_divisor` (kh·kw for interior windows).  Backward (the mean-pool rule:
    the gradient shared evenly over the window): every pixel of a window receives
    g[oh,ow] / D[oh,ow], so ∂L/∂x[h,w] = Σ_{windows ∋ (h,w)} g[oh,ow] / D[oh,ow].
    """

    name = "avg_pool2d"

    @staticmethod
    def forward(ctx: Context, x, win: Windows, count_include_pad: bool = True,
                divisor_override: int | None = None):
        x4, unbatched = _batched(x)
        div = window_divisor(win, count_include_pad, divisor_override, array_module(x), x.dtype)
        ctx.win, ctx.div, ctx.unbatched = win, div, unbatched
        return _unbatched(sum_windows(x4, win) / div, unbatched)

    @staticmethod
    def backward(ctx: Context, g):
        g4 = g[None] if ctx.unbatched else g
        return _unbatched(scatter_sum(g4 / ctx.div, ctx.win), ctx.unbatched)


class LPPool(Function):
    """Power-average pooling, PyTorch's ``lp_pool2d`` (no padding):

        y = (c · S)^(1/p),   S = Σ_{i,j} x[window + (i, j)]^p,

    where c = 1 for full windows; PyTorch computes c·S as avg_pool2d(xᵖ)·kh·kw, so a window that
    ceil mode clips to m < kh·kw pixels gets c = kh·kw/m.  p = 2 is L2 pooling (Goodfellow,
    Bengio & Courville, "Deep Learning" (2016), §9.3).

    Backward: ∂y/∂x = (1/p)(cS)^(1/p − 1) · c · p·x^(p−1) = c · y^(1−p) · x^(p−1), so
    ∂L/∂x = x^(p−1) ⊙ Σ_{windows ∋ x} g · c · y^(1−p); windows with y = 0 pass no gradient (as in
    PyTorch, where the ReLU inside its formula blocks it).
    p = ±∞: y = max |x| (resp. min |x|) over the window and ∂L/∂x = g · sign(x) at the arg-max
    (arg-min) pixel, as PyTorch does through max_pool2d(|x|).
    """

    name = "lp_pool2d"

    @staticmethod
    def forward(ctx: Context, x, win: Windows, norm_type: float):
        xp = array_module(x)
        x4, unbatched = _batched(x)
        ctx.win, ctx.p, ctx.unbatched = win, norm_type, unbatched
        if math.isinf(norm_type):
            sign = 1.0 if norm_type > 0 else -1.0
            y, arg = max_windows(sign * xp.abs(x4), win)
            ctx.save_for_backward(x4, arg)
            return _unbatched(sign * y, unbatched)
        kh, kw = win.kernel
        div = window_divisor(win, True, None, xp, x.dtype)
        scale = 1 if isinstance(div, int) else (kh * kw) / div
        total = sum_windows(x4**norm_type, win) * scale
        y = total ** (1.0 / norm_type)
        ctx.save_for_backward(x4, y, scale)
        return _unbatched(y, unbatched)

    @staticmethod
    def backward(ctx: Context, g):
        xp = array_module(g)
        g4 = g[None] if ctx.unbatched else g
        win, p = ctx.win, ctx.p
        if math.isinf(p):
            x4, arg = ctx.saved_tensors
            gx = scatter_max(g4, arg, win) * xp.sign(x4)
            return _unbatched(gx, ctx.unbatched)
        x4, y, scale = ctx.saved_tensors
        positive = y > 0
        gw = xp.where(positive, g4 * scale * xp.where(positive, y, 1) ** (1.0 - p), 0)
        gx = scatter_sum(gw, win)
        if p != 1:
            gx *= x4 ** (p - 1.0)
        return _unbatched(gx, ctx.unbatched)


class GaussianPool(Function):
    """Gaussian pooling (a weighted average by distance from the window's centre, one of the
    pooling functions of Goodfellow et al. 2016, §9.3):
    y[oh,ow] = Σ_{i,j} w[i,j] · x̃[oh·s_h + i, ow·s_w + j], padding x̃ = 0, with
    w[i,j] ∝ exp(−(Δi² + Δj²)/2σ²), Δ from the window centre, Σ w = 1 (``gaussian_window``).

    Backward: ∂L/∂x[h,w] = Σ_{windows ∋ (h,w)} w[i,j] · g[oh,ow], (i, j) being the pixel's offset
    inside each window — the transposed (full) correlation with the same weights.
    """

    name = "gaussian_pool2d"

    @staticmethod
    def forward(ctx: Context, x, win: Windows, weights: np.ndarray):
        x4, unbatched = _batched(x)
        ctx.win, ctx.weights, ctx.unbatched = win, weights, unbatched
        return _unbatched(sum_windows(x4, win, weights), unbatched)

    @staticmethod
    def backward(ctx: Context, g):
        g4 = g[None] if ctx.unbatched else g
        return _unbatched(scatter_sum(g4, ctx.win, ctx.weights), ctx.unbatched)


# --- argument rules (PyTorch's) ---------------------------------------------------------------


def _sizes(op: str, name: str, value: Any, minimum: int, x: Any) -> tuple[int, int]:
    try:  # NumPy integers are fine too; floats and odd shapes are TypeErrors naming the op
        value = operator.index(value) if not isinstance(value, (tuple, list)) else tuple(
            operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, "
                        f"got {value!r}") from None
    v = pair(op, name, value)
    if min(v) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v} "
                         f"(input shape {tuple(x.shape)})")
    return v


def check_input(op: str, x: Any) -> None:
    """(N, C, H, W) or unbatched (C, H, W) floats with non-empty C, H, W."""
    expect_rank(op, "input", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    expect_float(op, "input", x)
    if min(x.shape[-3:]) < 1:
        raise ValueError(f"{op}: expected non-empty channels, height and width, "
                         f"got input shape {tuple(x.shape)}")


def pool_windows(op: str, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, ceil_mode: bool = False) -> Windows:
    """Check a pooling call as PyTorch does and return its window geometry.

    stride defaults to the kernel; kernel, stride, dilation ≥ 1; 0 ≤ padding ≤ kernel // 2; the
    output must have at least one row and column (a kernel larger than the padded input does not).
    """
    check_input(op, x)
    kernel = _sizes(op, "kernel_size", kernel_size, 1, x)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    step = kernel if no_stride else _sizes(op, "stride", stride, 1, x)
    pad = _sizes(op, "padding", padding, 0, x)
    dil = _sizes(op, "dilation", dilation, 1, x)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {pad} must be at most half the kernel size {kernel} "
                         f"(input shape {tuple(x.shape)})")
    size = tuple(x.shape[-2:])
    out = tuple(output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(size, kernel, step, pad, dil, strict=True))
    if min(out) < 1:
        padded = tuple(n + 2 * p for n, p in zip(size, pad, strict=True))
        reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil, strict=True))
        raise ValueError(
            f"{op}: kernel {kernel} (dilation {dil}, so {reach} pixels) is larger than the "
            f"padded input {padded}: input shape {tuple(x.shape)} gives output size {out}")
    return Windows(size, kernel, step, pad, dil, out)


# --- functional forms ---------------------------------------------------------------------------


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling: each output is the largest input in its window.

        y[n, c, i, j] = max_{p, q} x̃[n, c, i·s + p·d, j·s + q·d],   padding x̃ = −∞

    Keeping only the strongest response makes the features tolerant to small shifts and
    shrinks the maps.  ``return_indices`` also returns, per output, the flat index h·W + w of
    its maximum (int64), as PyTorch does.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``, windows side by side).
        padding: an int or a pair of −∞ added on each side, at most half the window.
        dilation: an int or a pair: the spacing of the window's taps.
        ceil_mode: round the output size up, so that a last partial window counts.
        return_indices: also return the flat index h·W + w of each maximum (int64).

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        H_out = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1 (⌈·⌉ with ``ceil_mode``),
        W_out likewise; ``stride`` defaults to ``kernel_size``.

    Backward:
        Each output gradient goes, whole, to the one input that was the maximum (remembered in
        the forward pass); inputs that are the maximum of several windows sum what they get.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3; LeCun et al. 1998.
    """
    win = pool_windows("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool.apply(input, win, return_indices)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None):
    """2-D average pooling: each output is the mean of its window.

        y[n, c, i, j] = (1/D) · Σ_{p, q} x̃[n, c, i·s + p, j·s + q],   padding x̃ = 0

    D is kh·kw, or with ``count_include_pad=False`` the number of non-padding inputs in the
    window, or ``divisor_override``.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        padding: an int or a pair of zeros added on each side, at most half the window.
        ceil_mode: round the output size up, so that a last partial window counts.
        count_include_pad: divide by the whole window, padding included (else by the inputs
            that are not padding).
        divisor_override: divide by this number instead.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        H_out = ⌊(H + 2·padding − kh) / stride⌋ + 1 (⌈·⌉ with ``ceil_mode``), W_out
        likewise; ``stride`` defaults to ``kernel_size``.

    Backward:
        Each output gradient is shared evenly, g/D, among the inputs of its window; inputs in
        several windows sum their shares.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3;
        LeCun et al. 1998 (subsampling layers).
    """
    win = pool_windows("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, "
                         f"got {divisor_override!r}")
    return AvgPool.apply(input, win, bool(count_include_pad), divisor_override)


def lp_pool2d(input: Any, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False):
    """2-D power-average (Lᵖ) pooling: y = (Σ_window xᵖ)^(1/p), with p = ``norm_type``.

    p = 1 is sum pooling, p = 2 L2 pooling, and p → ∞ tends to max pooling; no padding.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        norm_type: p, the power.
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        ceil_mode: round the output size up, so that a last partial window counts.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        H_out = ⌊(H − kh) / stride⌋ + 1 (⌈·⌉ with ``ceil_mode``), W_out likewise;
        ``stride`` defaults to ``kernel_size``.

    Backward:
        ∂y/∂x = y^(1−p) · x^(p−1) for each input of the window, times the window's output
        gradient; windows whose output is 0 pass no gradient.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3;
        Sermanet, Chintala & LeCun 2012, "Convolutional neural networks applied to house
        numbers digit classification".
    """
    if not isinstance(norm_type, (int, float)) or norm_type == 0 or math.isnan(norm_type):
        raise ValueError(f"lp_pool2d: norm_type must be a non-zero number, got {norm_type!r}")
    win = pool_windows("lp_pool2d", input, kernel_size, stride, 0, 1, ceil_mode)
    return LPPool.apply(input, win, float(norm_type))


def gaussian_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                    sigma: float | None = None):
    """2-D Gaussian pooling: a weighted average of each window, nearer pixels counting more.

        y[n, c, i, j] = Σ_{p, q} w[p, q] · x̃[n, c, i·s + p, j·s + q],
        w[p, q] ∝ exp(−(Δp² + Δq²) / 2σ²),  Σ w = 1

    with Δ the offset from the window's centre and ``sigma`` σ (default max(kh, kw)/4);
    padding counts as zeros with their weights.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        kernel_size: the window (kh, kw), an int or a pair.
        stride: an int or a pair (default: ``kernel_size``).
        padding: an int or a pair of zeros added on each side.
        sigma: σ in pixels (default: max(kh, kw)/4).

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        H_out = ⌊(H + 2·padding − kh) / stride⌋ + 1, W_out likewise.

    Backward:
        Each input receives w[p, q] · g from every window it sits in, at its offset (p, q).

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.3
        (a weighted average by distance from the centre).
    """
    win = pool_windows("gaussian_pool2d", input, kernel_size, stride, padding)
    if sigma is not None and not sigma > 0:
        raise ValueError(f"gaussian_pool2d: sigma must be positive, got {sigma!r}")
    return GaussianPool.apply(input, win, weights=gaussian_window(win.kernel, sigma))
