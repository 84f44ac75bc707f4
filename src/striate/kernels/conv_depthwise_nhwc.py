"""Depthwise correlation with the channels innermost ("channels last", NHWC), its adjoint in X
and its weight gradient: the operators of ``conv_depthwise.py``, computed the other way round.

    Y[o, n, i, j] = Σ_{p, q} K[o, 0, p, q] · Xpad[⌊o/m⌋, n, i·s_h + p·d_h, j·s_w + q·d_w]

``conv_depthwise.py`` walks each channel's plane, a long unit-stride run on a large plane; on the
small planes of a network's last stages (4 × 4, 2 × 2) each run is a few values long and the
loop around it is the cost.  Here each image is first moved into a padded (Hp·Wp, O) block, one
lane per output channel o holding input channel ⌊o/m⌋, and each output position sums its kh·kw
taps as whole rows of O lanes: one unit-stride run of O values per tap, whatever the plane size.

    out[i·Wo + j, :] = Σ_t K_t[:] ∘ line[(i·s_h + p_t·d_h)·Wp + j·s_w + q_t·d_w, :]

The adjoint adds K_t ∘ G[i, j] back into the rows it read, and the weight gradient sums
G[i, j] ∘ line[...] per tap.  Moving the data in and out of the lanes costs a pass each that the
plane-wise loops do not pay, so neither layout wins on every plane: the measured plan
(``conv_tuning``) times both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv_depthwise import adjoint_plane, channels_first, tap_offsets, tops
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair, spread_size
from .conv_plan import Pass
from .jit import FAST_KEEPING_NAN, compiled, inlined
from .layout import planes
from .parallel import map_chunks, sum_chunks

BLOCK = 16  # lanes moved together: 16 planes read side by side, one 16-lane run written


@inlined
def _lay_image(planes, steps, n, mult, pads, padded, line):  # pragma: no cover - compiled
    """Image n of X into ``line`` (Hp·Wp, O): lane o of row (r + top)·Wp + col + left holds
    X[n, ⌊o/m⌋, r, col]; the padding rows keep the zeros they were made with (rows and columns
    outside the block, for a negative pad, are left out)."""
    lanes = line.shape[1]
    height, width = planes.shape[1:]
    (top, left), (hp, wp) = pads, padded
    r0, r1 = max(0, -top), min(height, hp - top)
    c0, c1 = max(0, -left), min(width, wp - left)
    for b in range(0, lanes, BLOCK):
        for r in range(r0, r1):
            for col in range(c0, c1):
                row = line[(r + top) * wp + col + left]
                for o in range(b, min(b + BLOCK, lanes)):
                    row[o] = planes[n * steps[0] + (o // mult) * steps[1], r, col]


@inlined
def _lay_gradient(g, n, grad):  # pragma: no cover - compiled
    """Image n of G (O, N·Ho·Wo) into ``grad`` (Ho·Wo, O)."""
    positions, lanes = grad.shape
    at = n * positions
    for b in range(0, lanes, BLOCK):
        for f in range(positions):
            row = grad[f]
            for o in range(b, min(b + BLOCK, lanes)):
                row[o] = g[o, at + f]


def _forward(planes, steps, weight, kernel, mult, pads, padded, stride, dilation, y, ho, wo,
             first, last):  # pragma: no cover - compiled
    """Images first … last − 1 of y (O, N·Ho·Wo) = the depthwise correlation of X (planes as
    ``layout.planes`` gives them) with ``weight`` (kh·kw, O): tap t's kernel values in row t."""
    taps, lanes = weight.shape
    (hp, wp), (sh, sw), positions = padded, stride, ho * wo
    offsets = tap_offsets(kernel[0], kernel[1], wp, dilation[0], dilation[1])
    line = np.zeros((hp * wp, lanes), y.dtype)
    out = np.empty((positions, lanes), y.dtype)
    for n in range(first, last):
        _lay_image(planes, steps, n, mult, pads, padded, line)
        for i in range(ho):
            for j in range(wo):
                base, acc = np.uint64(i * sh * wp + j * sw), out[i * wo + j]
                src, k = line[base], weight[0]
                for o in range(lanes):
                    acc[o] = k[o] * src[o]
                for t in range(1, taps):
                    src, k = line[base + offsets[t]], weight[t]
                    for o in range(lanes):
                        acc[o] += k[o] * src[o]
        at = n * positions
        for b in range(0, lanes, BLOCK):  # out (Ho·Wo, O) into y's rows
            for f in range(positions):
                row = out[f]
                for o in range(b, min(b + BLOCK, lanes)):
                    y[o, at + f] = row[o]


def _transpose(g, weight, kernel, mult, pads, buffer_hw, stride, dilation, dx, out_hw, ho, wo,
               first, last):  # pragma: no cover - compiled
    """Images first … last − 1 of dx (C, N·H·W), the adjoint of the forward applied to g
    (O, N·Ho·Wo): each output position adds K_t ∘ G[i, j] into the block row tap t read, and
    each channel's m lanes of the block's inside are summed into its plane."""
    taps, lanes = weight.shape
    (hb, wb), (sh, sw), (top, left), (height, width) = buffer_hw, stride, pads, out_hw
    offsets = tap_offsets(kernel[0], kernel[1], wb, dilation[0], dilation[1])
    acc = np.empty((hb * wb, lanes), g.dtype)
    grad = np.empty((ho * wo, lanes), g.dtype)
    r0, r1 = max(0, -top), min(height, hb - top)
    c0, c1 = max(0, -left), min(width, wb - left)
    channels = lanes // mult
    for n in range(first, last):
        _lay_gradient(g, n, grad)
        acc[:] = 0
        for i in range(ho):
            for j in range(wo):
                base, row = np.uint64(i * sh * wb + j * sw), grad[i * wo + j]
                for t in range(taps):
                    dst, k = acc[base + offsets[t]], weight[t]
                    for o in range(lanes):
                        dst[o] += k[o] * row[o]
        for b in range(0, channels, BLOCK):
            for r in range(r0, r1):
                for col in range(c0, c1):
                    row, at = acc[(r + top) * wb + col + left], (n * height + r) * width + col
                    for c in range(b, min(b + BLOCK, channels)):
                        total = row[c * mult]
                        for m in range(1, mult):
                            total += row[c * mult + m]
                        dx[c, at] = total


def _weight(planes, steps, g, kernel, mult, pads, padded, stride, dilation, grad_w, ho, wo,
            first, last):  # pragma: no cover - compiled
    """Add images first … last − 1's share of ∂L/∂K, as (kh·kw, O), into grad_w:
    Σ_{n, i, j} G[i, j] ∘ line[(i·s_h)·Wp + j·s_w + shift_t] per tap t."""
    taps, lanes = grad_w.shape
    (hp, wp), (sh, sw) = padded, stride
    offsets = tap_offsets(kernel[0], kernel[1], wp, dilation[0], dilation[1])
    line = np.zeros((hp * wp, lanes), g.dtype)
    grad = np.empty((ho * wo, lanes), g.dtype)
    for n in range(first, last):
        _lay_image(planes, steps, n, mult, pads, padded, line)
        _lay_gradient(g, n, grad)
        for i in range(ho):
            for j in range(wo):
                base, row = np.uint64(i * sh * wp + j * sw), grad[i * wo + j]
                for t in range(taps):
                    src, dst = line[base + offsets[t]], grad_w[t]
                    for o in range(lanes):
                        dst[o] += row[o] * src[o]


forward_kernel = compiled(_forward, fastmath=FAST_KEEPING_NAN)
transpose_kernel = compiled(_transpose, fastmath=FAST_KEEPING_NAN)
weight_kernel = compiled(_weight, fastmath=FAST_KEEPING_NAN)


def _taps(weight: Any) -> Any:
    """K (O, 1, kh, kw) as (kh·kw, O), C-contiguous: each tap's O values one run."""
    return np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T)


def correlate(x: Any, weight: Any, pads: Pads, stride: Pair, dilation: Pair, out_hw: Pair,
              work: Pass, finish: Epilogue | None = None) -> Any:
    """(O, N, Ho, Wo) depthwise correlation of NCHW ``x`` padded by ``pads``, each chunk of
    images given ``finish``."""
    o, _, kh, kw = weight.shape
    y = np.empty((o, x.shape[0], *out_hw), dtype=x.dtype)
    taps, (src, steps) = _taps(weight), planes(x)
    padded = spread_size(x.shape[2:], (1, 1), pads)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        forward_kernel(src, steps, taps, (kh, kw), o // x.shape[1], tops(pads), padded, stride,
                       dilation, y.reshape(o, -1), *out_hw, images.start, images.stop)
        if finish is not None:
            finish(y[:, images], images)

    map_chunks(run, work.chunks, work.tiny)
    return y


def transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair, work: Pass) -> Any:
    """The adjoint in X, NCHW of spatial size ``out_hw`` (a view of dense (C, N, H, W) memory)."""
    o, _, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    dx = np.zeros((groups, n, *out_hw), dtype=g.dtype)
    taps, g_on = _taps(weight), channels_first(g)
    buffer_hw = adjoint_plane((kh, kw), stride, pads, dilation, out_hw, (ho, wo))

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        transpose_kernel(g_on.reshape(o, -1), taps, (kh, kw), o // groups, tops(pads),
                         buffer_hw, stride, dilation, dx.reshape(groups, -1), tuple(out_hw),
                         ho, wo, images.start, images.stop)

    map_chunks(run, work.chunks, work.tiny)
    return dx.transpose(1, 0, 2, 3)


def weight_gradient(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                    work: Pass) -> Any:
    """∂L/∂K (O, 1, kh, kw): each chunk of images adds its share."""
    o = g.shape[1]
    g_on, (src, steps) = channels_first(g), planes(x)
    padded = spread_size(x.shape[2:], (1, 1), pads)

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        grad_w = np.zeros((kernel[0] * kernel[1], o), dtype=x.dtype)
        weight_kernel(src, steps, g_on.reshape(o, -1), tuple(kernel), o // x.shape[1],
                      tops(pads), padded, stride, dilation, grad_w, *g.shape[2:], images.start,
                      images.stop)
        return grad_w

    total = sum_chunks(run, work.chunks, work.tiny)
    return np.ascontiguousarray(total.T).reshape(o, 1, *kernel)
