"""Adaptive pooling: the caller fixes the output size and the windows follow from it.

Along an axis of n pixels pooled to m outputs, window i spans [⌊i·n/m⌋, ⌈(i+1)·n/m⌉) (PyTorch's
rule; neighbouring windows overlap by a pixel when m does not divide n).  Rows and columns are
chosen independently, so window (oh, ow) is the product of a row range and a column range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..kernels.pool import adaptive_average_matrix, adaptive_bounds
from .pool import _batched, _unbatched, check_input


class AdaptiveAvgPool(Function):
    """y[n,c,oh,ow] = mean of x[n,c, rows(oh), cols(ow)].

    Averaging along one axis is linear, x ↦ A·x with A[i, start_i:end_i] = 1/(end_i − start_i),
    so y = A_h · X · A_wᵀ per (n, c) plane, done as two matrix products.  Backward is the
    transpose, ∂L/∂X = A_hᵀ · G · A_w: each pixel receives g/|window| from every window holding it.

    When the output size divides the input's (global pooling above all), the windows tile the
    plane, each k_h × k_w, and the same maps are a mean over each tile and g/(k_h·k_w) spread
    back over it, without the matrices (ResNet-20's global pool at batch 1 cost as much as a
    convolution's arithmetic through them).
    """

    name = "adaptive_avg_pool2d"

    @staticmethod
    def forward(ctx: Context, x, out: tuple[int, int]):
        xp = array_module(x)
        x4, unbatched = _batched(x)
        n, c, h, w = x4.shape
        ctx.unbatched, ctx.shape = unbatched, x4.shape
        if h % out[0] == 0 and w % out[1] == 0:  # tiles of (h/oh) × (w/ow)
            ctx.tile = (h // out[0], w // out[1])
            return _unbatched(_tile_means(x4, out, ctx.tile), unbatched)
        ctx.tile = None
        ctx.a_h = adaptive_average_matrix(h, out[0], xp, x.dtype)
        ctx.a_w = adaptive_average_matrix(w, out[1], xp, x.dtype)
        return _unbatched(_sandwich(x4, ctx.a_h, ctx.a_w), unbatched)

    @staticmethod
    def backward(ctx: Context, g):
        xp = array_module(g)
        g4 = g[None] if ctx.unbatched else g
        if ctx.tile is None:
            return _unbatched(_sandwich(g4, ctx.a_h.T, ctx.a_w.T), ctx.unbatched)
        (kh, kw), (n, c, oh, ow) = ctx.tile, g4.shape
        spread = xp.broadcast_to((g4 / (kh * kw))[:, :, :, None, :, None], (n, c, oh, kh, ow, kw))
        return _unbatched(spread.reshape(ctx.shape), ctx.unbatched)


def _tile_means(x, out: tuple[int, int], tile: tuple[int, int]):
    """The mean of each k_h × k_w tile of x, as products with a vector of 1/(k_h·k_w): NumPy's
    reductions over short trailing axes run 10–30× slower than a matrix-vector product."""
    xp = array_module(x)
    (n, c, _, w), (oh, ow), (kh, kw) = x.shape, out, tile
    if ow == 1:  # a tile spans whole rows: kh·w contiguous values
        return (x.reshape(-1, kh * w) @ xp.full(kh * w, 1 / (kh * w), x.dtype)).reshape(
            n, c, oh, 1)
    rows = (x.reshape(-1, kw) @ xp.full(kw, 1 / (kh * kw), x.dtype)).reshape(-1, kh, ow)
    return rows.sum(1).reshape(n, c, oh, ow)


def _sandwich(x, left, right):
    """left · X · rightᵀ for every (n, c) plane X of x, as two large matrix products."""
    xp = array_module(x)
    n, c, h, w = x.shape
    t = (x.reshape(n * c * h, w) @ right.T).reshape(n * c, h, -1)      # (NC, H, OW)
    y = xp.tensordot(left, t, axes=([1], [1]))                       # (OH, NC, OW)
    return xp.ascontiguousarray(y.transpose(1, 0, 2)).reshape(n, c, left.shape[0], -1)


class AdaptiveMaxPool(Function):
    """y[n,c,oh,ow] = max of x[n,c, rows(oh), cols(ow)], first maximum in row-major order.

    Forward visits every offset (a, b) inside the largest window; a shorter window repeats its
    last row or column there, which cannot change a strict first maximum.  It keeps the maximum's
    flat index h·W + w (PyTorch's indices).  Backward: ∂L/∂x[h,w] = Σ_{windows whose maximum is
    (h, w)} g — a scatter, summed where overlapping windows share a maximum.
    """

    name = "adaptive_max_pool2d"

    @staticmethod
    def forward(ctx: Context, x, out: tuple[int, int], return_indices: bool = False):
        xp = array_module(x)
        x4, unbatched = _batched(x)
        n, c, h, w = x4.shape
        (rs, re), (cs, ce) = adaptive_bounds(h, out[0]), adaptive_bounds(w, out[1])
        y = idx = None
        for a in range(int((re - rs).max())):
            rows = np.minimum(rs + a, re - 1)
            x_rows = x4[:, :, xp.asarray(rows), :]                      # (N, C, OH, W)
            for b in range(int((ce - cs).max())):
                cols = np.minimum(cs + b, ce - 1)
                v = x_rows[:, :, :, xp.asarray(cols)]
                flat = xp.asarray(rows[:, None] * w + cols[None, :])
                if y is None:
                    y, idx = v, xp.broadcast_to(flat, v.shape).astype(np.int64)
                    continue
                better = v > y
                xp.maximum(y, v, out=y)
                idx += better * (flat - idx)  # arithmetic: masked writes are slow in NumPy
        if ctx.requires_grad:
            overlap = bool((re[:-1] > rs[1:]).any() or (ce[:-1] > cs[1:]).any())
            ctx.idx, ctx.shape, ctx.overlap, ctx.unbatched = idx, x4.shape, overlap, unbatched
        y = _unbatched(y, unbatched)
        return (y, _unbatched(idx, unbatched)) if return_indices else y

    @staticmethod
    def backward(ctx: Context, g):
        xp = array_module(g)
        g4 = g[None] if ctx.unbatched else g
        n, c, h, w = ctx.shape
        planes = xp.arange(n * c, dtype=np.int64)[:, None] * (h * w)
        where = (planes + ctx.idx.reshape(n * c, -1)).ravel()
        if ctx.overlap:  # windows share pixels: several gradients may land on one pixel
            gx = xp.bincount(where, weights=g4.ravel(), minlength=n * c * h * w).astype(g.dtype)
        else:
            gx = xp.zeros(n * c * h * w, dtype=g.dtype)
            gx[where] = g4.ravel()
        return _unbatched(gx.reshape(ctx.shape), ctx.unbatched)


# --- functional forms ---------------------------------------------------------------------------


def adaptive_output_size(op: str, x: Any, output_size: Any) -> tuple[int, int]:
    """An int, or a pair whose None entries keep the input's size; each at least 1."""
    check_input(op, x)
    sizes = (output_size, output_size) if output_size is None or isinstance(
        output_size, int) else tuple(output_size)
    if len(sizes) != 2 or not all(s is None or isinstance(s, int) for s in sizes):
        raise TypeError(f"{op}: output_size must be an int or a pair of ints or None, "
                        f"got {output_size!r}")
    out = tuple(x.shape[-2 + i] if s is None else s for i, s in enumerate(sizes))
    if min(out) < 1:
        raise ValueError(f"{op}: output size must be positive, got {out} "
                         f"(input shape {tuple(x.shape)})")
    return out


def adaptive_avg_pool2d(input: Any, output_size: Any):
    """Average pooling to a fixed output size, whatever the input size.

    Output row i averages input rows ⌊i·H/H_out⌋ to ⌈(i+1)·H/H_out⌉ − 1 (columns likewise), so
    a network can end in a fixed-size head on images of any size.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        output_size: (H_out, W_out), or an int for both; None in a place keeps that side.

    Shape:
        input (N, C, H, W) or (C, H, W); ``output_size`` an int or (H_out, W_out), None keeping
        that side; output (N, C, H_out, W_out).

    Backward:
        Each output gradient is shared evenly among its window's inputs.

    References:
        Lin, Chen & Yan 2014, "Network in network" (global average pooling); He et al. 2015,
        "Spatial pyramid pooling in deep convolutional networks".
    """
    out = adaptive_output_size("adaptive_avg_pool2d", input, output_size)
    return AdaptiveAvgPool.apply(input, out)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False):
    """Max pooling to a fixed output size, whatever the input size (windows as
    ``adaptive_avg_pool2d``); ``return_indices`` also returns the flat index of each maximum.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        output_size: (H_out, W_out), or an int for both; None in a place keeps that side.
        return_indices: also return the flat index h·W + w of each maximum (int64).

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out).

    Backward:
        Each output gradient goes to the first maximum of its window.

    References:
        He et al. 2015, "Spatial pyramid pooling in deep convolutional networks".
    """
    out = adaptive_output_size("adaptive_max_pool2d", input, output_size)
    return AdaptiveMaxPool.apply(input, out, return_indices)
