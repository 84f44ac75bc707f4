"""Depthwise correlation (one input channel per group: C groups, O = m·C outputs) by compiled
loops, its adjoint in X and its weight gradient; any stride, dilation and padding.

Output channel o reads only input channel c = ⌊o / m⌋, so there is no sum over channels:

    Y[o, n, i, j] = Σ_{p, q} K[o, 0, p, q] · Xpad[c, n, i·s_h + p·d_h, j·s_w + q·d_w]

Its adjoint adds each product back where it was read from, and the weight gradient sums the
same products over images and positions:

    Xpad[c, n, i·s_h + p·d_h, j·s_w + q·d_w] += K[o, 0, p, q] · G[o, n, i, j]
    ∂L/∂K[o, 0, p, q] = Σ_{n, i, j} G[o, n, i, j] · Xpad[c, n, i·s_h + p·d_h, j·s_w + q·d_w]

Why: im2col makes a kh·kw-row matrix per channel and multiplies it by a 1-row kernel, a product
with no reuse at all; the loops read each input row once per kernel offset from cache and do the
same arithmetic with no copy.  Every loop is a long unit-stride run, as in ``direct.py``: a
channel's padded planes of a chunk of images lie end to end in one line, indexed by
f = n·Hp·Wp + i·Wp + j, and at stride 1 each kernel offset is one pass over the whole line, the
positions past each row and each image computed and dropped; at other strides, one pass over
each output row's input span, (Wo − 1)·s_w + 1 long, every s_w-th position kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair, spread_size
from .conv_plan import Pass
from .jit import FAST_KEEPING_NAN, compiled, inlined
from .layout import planes
from .parallel import map_chunks, sum_chunks


def _forward(planes, steps, weight, mult, pads, padded, stride, dilation, y, ho, wo, first,
             last):  # pragma: no cover - compiled
    """Images first … last − 1 of y (O, N·Ho·Wo) = the depthwise correlation of X, whose (H, W)
    planes are ``planes`` (plane (n, c) at n·steps[0] + c·steps[1]; output o reads channel
    o // mult).  Per channel, the images'
    planes are laid padded (Hp × Wp = ``padded``) end to end in one line while it stays in
    cache; every output of the line is computed at stride 1 (one long run per offset, or one
    run for all nine of a 3 × 3 kernel) and the strided ones are kept: the skipped positions
    cost less than short runs per output row would."""
    o_count, _, kh, kw = weight.shape
    n_count, (hp, wp) = last - first, padded
    (sh, sw), (dh, dw), hw = stride, dilation, hp * wp
    span = _span(n_count, ho, wo, hw, wp, stride)
    acc = np.empty(span, y.dtype)
    line = np.zeros(n_count * hw, y.dtype)  # the padding stays zero: only the inside is copied
    offsets = tap_offsets(kh, kw, wp, dh, dw)
    for o in range(o_count):
        if o % mult == 0:
            _lay_padded(planes, steps, o // mult, first, n_count, pads, padded, line)
        if kh == kw == 3:
            _correlate_3x3(line, weight[o, 0], offsets, acc)
        else:
            acc[:] = 0
            for t in range(kh * kw):
                k, shift = weight[o, 0, t // kw, t % kw], offsets[t]
                for f in range(span):
                    acc[f] += k * line[f + shift]
        out = y[o]
        for n in range(n_count):
            for i in range(ho):
                at = np.uint64(((first + n) * ho + i) * wo)
                read = np.uint64(n * hw + i * sh * wp)
                for j in range(np.uint64(wo)):
                    out[at + j] = acc[read + j * np.uint64(sw)]


@inlined
def _lay_padded(planes, steps, c, first, n_count, pads, padded, line):  # pragma: no cover
    """Channel c's planes of images first … first + n_count − 1 into ``line``, each at its place
    in a zero-padded Hp × Wp plane (rows and columns that fall outside it, for a negative pad,
    are left out)."""
    height, width = planes.shape[1:]
    (top, left), (hp, wp) = pads, padded
    r0, r1 = max(0, -top), min(height, hp - top)
    c0, c1 = max(0, -left), min(width, wp - left)
    run = np.uint64(max(0, c1 - c0))
    for n in range(n_count):
        src = planes[(first + n) * steps[0] + c * steps[1]].ravel()
        for r in range(r0, r1):
            at = np.uint64(n * hp * wp + (r + top) * wp + c0 + left)
            read = np.uint64(r * width + c0)
            for j in range(run):
                line[at + j] = src[read + j]


@inlined
def _span(n_count, ho, wo, plane_size, padded_width, stride):  # pragma: no cover - compiled
    """The flat positions f = n·Hp·Wp + i·Wp + j from the first output to the last one (at the
    stride), as an unsigned count so that indices built on it need no negative-index check."""
    sh, sw = stride
    return np.uint64((n_count - 1) * plane_size + (ho - 1) * sh * padded_width
                     + (wo - 1) * sw + 1)


@inlined
def tap_offsets(kh, kw, padded_width, dh, dw):  # pragma: no cover - compiled
    """The flat shift p·d_h·Wp + q·d_w of each kernel offset t = p·kw + q, unsigned."""
    offsets = np.empty(kh * kw, np.uint64)
    for p in range(kh):
        for q in range(kw):
            offsets[p * kw + q] = p * dh * padded_width + q * dw
    return offsets


@inlined
def _correlate_3x3(line, k, offsets, acc):  # pragma: no cover - compiled
    """acc[f] = Σ_t k_t · line[f + offsets[t]] for the nine offsets of a 3 × 3 kernel in one
    pass: each output written once, its nine reads close together in cache."""
    k0, k1, k2, k3, k4 = k[0, 0], k[0, 1], k[0, 2], k[1, 0], k[1, 1]
    k5, k6, k7, k8 = k[1, 2], k[2, 0], k[2, 1], k[2, 2]
    s1, s2, s3, s4, s5, s6, s7, s8 = (offsets[1], offsets[2], offsets[3], offsets[4],
                                      offsets[5], offsets[6], offsets[7], offsets[8])
    for f in range(np.uint64(acc.shape[0])):
        acc[f] = (k0 * line[f] + k1 * line[f + s1] + k2 * line[f + s2] + k3 * line[f + s3]
                  + k4 * line[f + s4] + k5 * line[f + s5] + k6 * line[f + s6]
                  + k7 * line[f + s7] + k8 * line[f + s8])


@inlined
def _lay_wide(g, o, first, n_count, ho, wo, plane_size, padded_width, stride,
              wide):  # pragma: no cover - compiled
    """G[o] of images first … first + n_count − 1 (g: (O, N·Ho·Wo)) where the forward's sums
    lay, at f = n·Hp·Wp + i·s_h·Wp + j·s_w; the positions between keep the zeros the caller put
    there once."""
    sh, sw = stride
    for n in range(n_count):
        for i in range(ho):
            at = np.uint64(n * plane_size + i * sh * padded_width)
            read = np.uint64(((first + n) * ho + i) * wo)
            for j in range(np.uint64(wo)):
                wide[at + j * np.uint64(sw)] = g[o, read + j]


def _transpose(g, weight, buffer_hw, pads, stride, dilation, dx, out_hw, ho, wo, first,
               last):  # pragma: no cover - compiled
    """Add into dx (C, N·H·W) the adjoint of the forward for images first … last − 1 of the
    output gradient g (O, N·Ho·Wo): each position of X gathers K_t · G_wide[e − shift_t] over
    the kernel offsets t, e its position in the padded plane (Hb × Wb = ``buffer_hw``) where G
    is laid wide; a 3 × 3 kernel's nine terms in one pass."""
    o_count, _, kh, kw = weight.shape
    (hb, wb), (top, left), (dh, dw), (height, width) = buffer_hw, pads, dilation, out_hw
    n_count, hw, mult = last - first, hb * wb, o_count // dx.shape[0]
    offsets = tap_offsets(kh, kw, wb, dh, dw)
    margin = offsets[kh * kw - 1]  # zeros before G_wide, so that no index falls below 0
    wide = np.zeros(margin + np.uint64(n_count * hw), g.dtype)
    rows = (max(0, -top), min(height, hb - top))  # positions of X inside the padded plane
    cols = (max(0, -left), min(width, wb - left))
    run = np.uint64(max(0, cols[1] - cols[0]))
    reach = np.empty(kh * kw, np.uint64)  # read G_wide at margin + e − shift_t
    for t in range(kh * kw):
        reach[t] = margin - offsets[t]
    for o in range(o_count):
        _lay_wide(g, o, first, n_count, ho, wo, hw, wb, stride, wide[margin:])
        out, k = dx[o // mult], weight[o, 0]
        for n in range(n_count):
            for r in range(rows[0], rows[1]):
                e = np.uint64(n * hw + (r + top) * wb + cols[0] + left)
                at = np.uint64(((first + n) * height + r) * width + cols[0])
                if kh == kw == 3:
                    _gather_3x3(out, at, wide, e, reach, k, run)
                else:
                    for t in range(kh * kw):
                        kt, read = k[t // kw, t % kw], e + reach[t]
                        for j in range(run):
                            out[at + j] += kt * wide[read + j]


@inlined
def _gather_3x3(out, at, wide, e, reach, k, run):  # pragma: no cover - compiled
    """out[at + j] += Σ_t k_t · wide[e + reach_t + j] for the nine offsets of a 3 × 3 kernel."""
    k0, k1, k2, k3, k4 = k[0, 0], k[0, 1], k[0, 2], k[1, 0], k[1, 1]
    k5, k6, k7, k8 = k[1, 2], k[2, 0], k[2, 1], k[2, 2]
    r0, r1, r2, r3, r4 = e + reach[0], e + reach[1], e + reach[2], e + reach[3], e + reach[4]
    r5, r6, r7, r8 = e + reach[5], e + reach[6], e + reach[7], e + reach[8]
    for j in range(run):
        out[at + j] += (k0 * wide[r0 + j] + k1 * wide[r1 + j] + k2 * wide[r2 + j]
                        + k3 * wide[r3 + j] + k4 * wide[r4 + j] + k5 * wide[r5 + j]
                        + k6 * wide[r6 + j] + k7 * wide[r7 + j] + k8 * wide[r8 + j])


def _weight(planes, steps, g, mult, pads, padded, stride, dilation, zero, grad_w, ho, wo,
            first, last):  # pragma: no cover - compiled
    """Add images first … last − 1's share of ∂L/∂K (O, 1, kh, kw) into grad_w, for X's planes
    (laid padded per channel into one line, as the forward does) and the output gradient g
    (O, N·Ho·Wo): Σ_f G_wide[f] · line[f + shift_t] per kernel offset t, the nine of a 3 × 3
    kernel in one pass; ``zero`` is 0 in the arrays' dtype."""
    o_count, _, kh, kw = grad_w.shape
    n_count, (hp, wp) = last - first, padded
    (dh, dw), hw = dilation, hp * wp
    span = _span(n_count, ho, wo, hw, wp, stride)
    offsets = tap_offsets(kh, kw, wp, dh, dw)
    wide = np.zeros(span, g.dtype)
    line = np.zeros(n_count * hw, g.dtype)
    for o in range(o_count):
        if o % mult == 0:
            _lay_padded(planes, steps, o // mult, first, n_count, pads, padded, line)
        _lay_wide(g, o, first, n_count, ho, wo, hw, wp, stride, wide)
        if kh == kw == 3:
            s1, s2, s3, s4 = offsets[1], offsets[2], offsets[3], offsets[4]
            s5, s6, s7, s8 = offsets[5], offsets[6], offsets[7], offsets[8]
            t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = t8 = zero
            for f in range(span):
                v = wide[f]
                t0 += v * line[f]
                t1 += v * line[f + s1]
                t2 += v * line[f + s2]
                t3 += v * line[f + s3]
                t4 += v * line[f + s4]
                t5 += v * line[f + s5]
                t6 += v * line[f + s6]
                t7 += v * line[f + s7]
                t8 += v * line[f + s8]
            k = grad_w[o, 0]
            k[0, 0] += t0
            k[0, 1] += t1
            k[0, 2] += t2
            k[1, 0] += t3
            k[1, 1] += t4
            k[1, 2] += t5
            k[2, 0] += t6
            k[2, 1] += t7
            k[2, 2] += t8
        else:
            for t in range(kh * kw):
                shift, total = offsets[t], zero
                for f in range(span):
                    total += wide[f] * line[f + shift]
                grad_w[o, 0, t // kw, t % kw] += total


forward_kernel = compiled(_forward, fastmath=FAST_KEEPING_NAN)
transpose_kernel = compiled(_transpose, fastmath=FAST_KEEPING_NAN)
weight_kernel = compiled(_weight, fastmath=FAST_KEEPING_NAN)


def channels_first(g: Any) -> Any:
    """G (N, O, Ho, Wo) as C-contiguous (O, N, Ho, Wo): a view of a convolution's output
    memory, else a copy, so that each chunk of images is one (O, n·Ho·Wo) matrix."""
    return array_module(g).ascontiguousarray(g.transpose(1, 0, 2, 3))


def correlate(x: Any, weight: Any, pads: Pads, stride: Pair, dilation: Pair, out_hw: Pair,
              work: Pass, finish: Epilogue | None = None) -> Any:
    """(O, N, Ho, Wo) depthwise correlation of NCHW ``x`` padded by ``pads``, each chunk of
    images given ``finish``."""
    xp = array_module(x)
    y = xp.empty((weight.shape[0], x.shape[0], *out_hw), dtype=x.dtype)
    weight = xp.ascontiguousarray(weight)
    src, steps = planes(x)
    padded = spread_size(x.shape[2:], (1, 1), pads)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        forward_kernel(src, steps, weight, weight.shape[0] // x.shape[1], tops(pads), padded,
                       stride, dilation, y.reshape(len(y), -1), *out_hw, images.start,
                       images.stop)
        if finish is not None:
            finish(y[:, images], images)

    map_chunks(run, work.chunks, work.tiny)
    return y


def tops(pads: Pads) -> Pair:
    """The zeros before the rows and before the columns."""
    return pads[0][0], pads[1][0]


def adjoint_plane(kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, out_hw: Pair,
                  g_hw: Pair) -> Pair:
    """(Hb, Wb) of the padded plane the adjoint adds into: every position a window of the
    forward read, and all of X past the zeros before it (the rows a transposed convolution's
    output padding adds, which no window reads)."""
    return tuple(max(top + size, (outputs - 1) * s + d * (k - 1) + 1)
                 for top, size, outputs, s, d, k in zip(tops(pads), out_hw, g_hw, stride,
                                                        dilation, kernel, strict=True))


def transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair, work: Pass) -> Any:
    """The adjoint in X, NCHW of spatial size ``out_hw`` (a view of dense (C, N, H, W) memory):
    each chunk of images adds into its own planes."""
    xp = array_module(g)
    o, _, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    dx = xp.zeros((groups, n, *out_hw), dtype=g.dtype)
    weight, g_on = xp.ascontiguousarray(weight), channels_first(g)
    buffer_hw = adjoint_plane((kh, kw), stride, pads, dilation, out_hw, (ho, wo))

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        transpose_kernel(g_on.reshape(o, -1), weight, buffer_hw, tops(pads), stride, dilation,
                         dx.reshape(groups, -1), tuple(out_hw), ho, wo, images.start,
                         images.stop)

    map_chunks(run, work.chunks, work.tiny)
    return dx.transpose(1, 0, 2, 3)


def weight_gradient(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                    work: Pass) -> Any:
    """∂L/∂K (O, 1, kh, kw): each chunk of images adds its share."""
    xp = array_module(x)
    shape = (g.shape[1], 1, *kernel)
    g_on = channels_first(g)
    src, steps = planes(x)
    padded = spread_size(x.shape[2:], (1, 1), pads)
    zero, mult = x.dtype.type(0), shape[0] // x.shape[1]

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        grad_w = xp.zeros(shape, dtype=x.dtype)
        weight_kernel(src, steps, g_on.reshape(shape[0], -1), mult, tops(pads), padded,
                      stride, dilation, zero, grad_w, *g.shape[2:], images.start, images.stop)
        return grad_w

    return sum_chunks(run, work.chunks, work.tiny)
