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
from .conv_geometry import Chunk, Pads, Pair, spread
from .conv_plan import Pass
from .jit import FAST_KEEPING_NAN, compiled, inlined
from .parallel import map_chunks


def _forward(lines, weight, plane_size, padded_width, stride, dilation, y):  # pragma: no cover
    """y (O, N, Ho, Wo) = the depthwise correlation of the padded planes of N images, each
    channel's planes one line: lines (C, N·Hp·Wp)."""
    o_count, _, kh, kw = weight.shape
    n_count, ho, wo = y.shape[1:]
    (sh, sw), (dh, dw), hw, wp = stride, dilation, plane_size, padded_width
    mult = o_count // lines.shape[0]
    unit, span = _runs(stride, n_count, ho, wo, hw, wp)
    acc = np.empty(span, y.dtype)
    for o in range(o_count):
        c = o // mult
        line = lines[c]
        for n in range(n_count if not unit else 1):
            for i in range(ho if not unit else 1):
                base = 0 if unit else n * hw + i * sh * wp
                acc[:] = 0
                for p in range(kh):
                    for q in range(kw):
                        k, start = weight[o, 0, p, q], base + p * dh * wp + q * dw
                        src = line[start:start + span]  # a slice: no index can be negative
                        for f in range(span):
                            acc[f] += k * src[f]
                if not unit:
                    for j in range(wo):
                        y[o, n, i, j] = acc[j * sw]
        if unit:
            for n in range(n_count):
                for i in range(ho):
                    y[o, n, i] = acc[n * hw + i * wp:n * hw + i * wp + wo]


@inlined
def _runs(stride, n_count, ho, wo, plane_size, padded_width):  # pragma: no cover - compiled
    """(unit, span): whether the stride is 1, so that each kernel offset is one run over the
    whole line (n·Hp·Wp + i·Wp + j up to the last output), else one per output row, whose input
    span is (Wo − 1)·s_w + 1."""
    sh, sw = stride
    unit = sh == sw == 1
    if unit:
        return unit, (n_count - 1) * plane_size + (ho - 1) * padded_width + wo
    return unit, (wo - 1) * sw + 1


@inlined
def _lay_wide(g, o, n, i, unit, plane_size, padded_width, sw, wide):  # pragma: no cover
    """G[o] where the forward's sums lay: at stride 1 every image's rows at f = n·Hp·Wp + i·Wp,
    else row (n, i) of G every s_w-th position; zeros between, put there once by the caller."""
    n_count, ho, wo = g.shape[1:]
    if unit:
        for m in range(n_count):
            for r in range(ho):
                at = m * plane_size + r * padded_width
                wide[at:at + wo] = g[o, m, r]
    else:
        for j in range(wo):
            wide[j * sw] = g[o, n, i, j]


def _transpose(g, weight, plane_size, padded_width, stride, dilation, lines):  # pragma: no cover
    """Add into the padded planes, lines (C, N·Hb·Wb), the adjoint of the forward for the output
    gradient g (O, N, Ho, Wo)."""
    o_count, _, kh, kw = weight.shape
    n_count, ho, wo = g.shape[1:]
    (sh, sw), (dh, dw), hw, wp = stride, dilation, plane_size, padded_width
    mult = o_count // lines.shape[0]
    unit, span = _runs(stride, n_count, ho, wo, hw, wp)
    wide = np.zeros(span, g.dtype)  # G laid out as Y_wide was: zeros where nothing was read
    for o in range(o_count):
        c = o // mult
        line = lines[c]
        for n in range(n_count if not unit else 1):
            for i in range(ho if not unit else 1):
                base = 0 if unit else n * hw + i * sh * wp
                _lay_wide(g, o, n, i, unit, hw, wp, sw, wide)
                for p in range(kh):
                    for q in range(kw):
                        k, start = weight[o, 0, p, q], base + p * dh * wp + q * dw
                        dst = line[start:start + span]
                        for f in range(span):
                            dst[f] += k * wide[f]


def _weight(lines, g, plane_size, padded_width, stride, dilation, zero, grad_w):  # pragma: no cover
    """Add ∂L/∂K (O, 1, kh, kw) for the padded planes, lines (C, N·Hp·Wp), and the output
    gradient g (O, N, Ho, Wo) into grad_w; ``zero`` is 0 in the arrays' dtype."""
    o_count, _, kh, kw = grad_w.shape
    n_count, ho, wo = g.shape[1:]
    (sh, sw), (dh, dw), hw, wp = stride, dilation, plane_size, padded_width
    mult = o_count // lines.shape[0]
    unit, span = _runs(stride, n_count, ho, wo, hw, wp)
    wide = np.zeros(span, g.dtype)
    for o in range(o_count):
        c = o // mult
        line = lines[c]
        for n in range(n_count if not unit else 1):
            for i in range(ho if not unit else 1):
                base = 0 if unit else n * hw + i * sh * wp
                _lay_wide(g, o, n, i, unit, hw, wp, sw, wide)
                for p in range(kh):
                    for q in range(kw):
                        start, total = base + p * dh * wp + q * dw, zero
                        src = line[start:start + span]
                        for f in range(span):
                            total += wide[f] * src[f]
                        grad_w[o, 0, p, q] += total


forward_kernel = compiled(_forward, fastmath=FAST_KEEPING_NAN)
transpose_kernel = compiled(_transpose, fastmath=FAST_KEEPING_NAN)
weight_kernel = compiled(_weight, fastmath=FAST_KEEPING_NAN)


def correlate(x: Any, weight: Any, pads: Pads, stride: Pair, dilation: Pair, out_hw: Pair,
              work: Pass, finish: Epilogue | None = None) -> Any:
    """(O, N, Ho, Wo) depthwise correlation of NCHW ``x`` padded by ``pads``, each chunk of
    images padding its own and given ``finish``."""
    xp = array_module(x)
    y = xp.empty((weight.shape[0], x.shape[0], *out_hw), dtype=x.dtype)
    weight = xp.ascontiguousarray(weight)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        buf = spread(x[images], (1, 1), pads)
        forward_kernel(buf.reshape(buf.shape[0], -1), weight, buf.shape[2] * buf.shape[3],
                       buf.shape[3], stride, dilation, y[:, images])
        if finish is not None:
            finish(y[:, images], images)

    map_chunks(run, work.chunks, work.tiny)
    return y


def transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair, work: Pass) -> Any:
    """The adjoint in X (NCHW, spatial size ``out_hw``): each chunk of images adds into its own
    padded planes, then the padding is cut off."""
    xp = array_module(g)
    o, _, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    (sh, sw), (dh, dw), ((top, _), (left, _)) = stride, dilation, pads
    hb = max(top + out_hw[0], (ho - 1) * sh + dh * (kh - 1) + 1)
    wb = max(left + out_hw[1], (wo - 1) * sw + dw * (kw - 1) + 1)
    lines = xp.zeros((groups, n * hb * wb), dtype=g.dtype)  # each channel's planes end to end
    weight, g_onhw = xp.ascontiguousarray(weight), g.transpose(1, 0, 2, 3)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        transpose_kernel(g_onhw[:, images], weight, hb * wb, wb, stride, dilation,
                         lines[:, images.start * hb * wb:images.stop * hb * wb])

    map_chunks(run, work.chunks, work.tiny)
    buf = lines.reshape(groups, n, hb, wb)
    return buf[:, :, top:top + out_hw[0], left:left + out_hw[1]].transpose(1, 0, 2, 3)


def weight_gradient(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                    work: Pass) -> Any:
    """∂L/∂K (O, 1, kh, kw): each chunk of images adds its share."""
    xp = array_module(x)
    shape = (g.shape[1], 1, *kernel)
    g_onhw = g.transpose(1, 0, 2, 3)
    zero = x.dtype.type(0)

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        grad_w = xp.zeros(shape, dtype=x.dtype)
        buf = spread(x[images], (1, 1), pads)
        weight_kernel(buf.reshape(buf.shape[0], -1), g_onhw[:, images],
                      buf.shape[2] * buf.shape[3], buf.shape[3], stride, dilation, zero, grad_w)
        return grad_w

    return sum(map_chunks(run, work.chunks, work.tiny))
