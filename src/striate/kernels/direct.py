"""Direct correlation for stride-1 layers with few channels: the sum over channels and kernel
offsets computed in place, without an im2col matrix, and its adjoint; and compiled im2col and
col2im.
The drivers that split the work into chunks are in ``conv_direct.py``.

The trick that makes it vectorise is to index a padded plane of width Wp by one flat position
f = i·Wp + j.  Output (i, j) reads input (i + p, j + q), at flat position f + (p·Wp + q), so for
one kernel offset every output of the plane reads one *contiguous* run of the input, shifted by
p·Wp + q:

    Y_wide[o, f] = Σ_{c, p, q} K[o, c, p, q] · X[c, f + p·Wp + q],   f = 0 … (Ho − 1)·Wp + Wo − 1

The positions with j ≥ Wo (the right overhang of each row) are computed and thrown away, a
(Wp − Wo)/Wo overhead; in return the inner loop is a long unit-stride run.  The weight gradient is
the same sum read the other way, a dot product per (o, c, p, q) between the output gradient laid
out "wide" (zeros in the overhang) and the shifted input:

    ∂L/∂K[o, c, p, q] = Σ_f G_wide[o, f] · X[c, f + p·Wp + q]

The input gradient of a layer that widens (O > C) is the forward's adjoint,
X[c, f + p·Wp + q] += K[o, c, p, q] · G_wide[o, f], computed as a gather per position of X (each
kernel row reversed, so the loop reads G_wide forward) into a scratch row per pair of input
channels: ``transpose_kernel``.

Why: with 6 or 16 output channels the im2col GEMMs are too thin for BLAS to run fast, and these
loops (two output channels at a time, the kernel row unrolled) did the same work in about half
the time (docs/convolution-plan.md).  The readable twin is ``conv_reference.correlate``.

col2im (the adjoint of im2col, for the input gradient of strided layers and of widening layers
with more channels) adds each kernel offset's slice of the column matrix back into the padded
planes; the compiled loop adds one channel's offsets while that channel's planes are in cache,
where NumPy makes kh·kw strided passes over the whole buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import jit, settings
from .jit import compiled, inlined

GATHER_MAX_WIDTH = 8  # im2col from planes: narrower outputs are gathered, not copied by rows
_forward_kernels: dict[int, Any] = {}


def available() -> bool:
    """True when the compiled kernels can run (Numba installed) and ``striate.backends.conv``
    allows them (``direct = False`` sends these layers to im2col, e.g. to compare the two)."""
    return jit.available() and settings.conv.direct


def forward_kernel(kernel_width: int):
    """The compiled forward for kernels ``kernel_width`` wide (a compile-time constant, so the
    loop over a kernel row unrolls and the loop over positions vectorises).  Fast-math without
    its no-NaN assumption: the epilogue's rectifier must keep NaN, as ``np.maximum`` does."""
    if kernel_width not in _forward_kernels:
        _forward_kernels[kernel_width] = compiled(_make_forward(kernel_width),
                                                  fastmath=jit.FAST_KEEPING_NAN)
    return _forward_kernels[kernel_width]


def _make_forward(kw: int):
    def forward(flat, weight, padded_width, scale, shift, relu, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = the correlation of the padded planes flat (C, N, Hp·Wp) with weight
        (O, C, kh, kw), times scale plus shift per output channel, then max(·, 0) when
        ``relu`` (NaN kept); two output channels per pass, so each input value loaded serves
        both."""
        o_count, c_count, kh = weight.shape[:3]
        n_count, ho, wo = y.shape[1:]
        wp = padded_width
        span = (ho - 1) * wp + wo
        acc = np.empty((2, span), y.dtype)
        zero = y.dtype.type(0)
        for n in range(n_count):
            for o in range(0, o_count, 2):
                o1 = min(o + 1, o_count - 1)  # an odd count repeats the last channel
                acc[:] = 0
                a0, a1 = acc[0], acc[1]
                for c in range(c_count):
                    for p in range(kh):
                        x = flat[c, n, p * wp:p * wp + span + kw - 1]
                        k0, k1 = weight[o, c, p], weight[o1, c, p]
                        for f in range(np.uint64(span)):  # unsigned: no negative-index check
                            t0, t1 = a0[f], a1[f]
                            for q in range(np.uint64(kw)):
                                t0 += k0[q] * x[f + q]
                                t1 += k1[q] * x[f + q]
                            a0[f], a1[f] = t0, t1
                s0, s1, b0, b1 = scale[o], scale[o1], shift[o], shift[o1]
                for i in range(ho):
                    row0, row1 = y[o, n, i], y[o1, n, i]
                    for j in range(wo):
                        v0 = a0[i * wp + j] * s0 + b0
                        v1 = a1[i * wp + j] * s1 + b1
                        if relu:
                            v0 = v0 if (v0 > 0) | (v0 != v0) else zero
                            v1 = v1 if (v1 > 0) | (v1 != v1) else zero
                        row0[j], row1[j] = v0, v1

    return forward


_transpose_kernels: dict[int, Any] = {}


def transpose_kernel(kernel_width: int):
    """The compiled adjoint of the forward (the input gradient of a stride-1 layer) for kernels
    ``kernel_width`` wide."""
    if kernel_width not in _transpose_kernels:
        _transpose_kernels[kernel_width] = compiled(_make_transpose(kernel_width))
    return _transpose_kernels[kernel_width]


def _make_transpose(kw: int):
    def transpose(g, flipped, padded_width, flat):  # pragma: no cover - compiled
        """Add into the padded planes flat (C, N, Hp·Wp) the adjoint of the forward for the
        output gradient g (O, N, Ho, Wo): X[c, p·Wp + f + q] += K[o, c, p, q] · G_wide[o, f],
        read the other way round so that each position f' of a kernel row gathers its sum,
        X[c, p·Wp + f'] += Σ_{o, q'} K'[o, c, p, q'] · G_wide[o, f' + q' − (kw − 1)], with
        K' = ``flipped`` (each kernel row reversed, q' = kw − 1 − q) and G_wide shifted right by
        kw − 1 zeros, so the reads run forward as in the forward pass.  Two input channels per
        pass share each gradient value loaded, and sum in a scratch row (summing straight into
        flat ran at half the speed)."""
        o_count, c_count, kh = flipped.shape[:3]
        n_count, ho, wo = g.shape[1:]
        wp = padded_width
        span = (ho - 1) * wp + wo
        reach = span + kw - 1  # positions f' of one kernel row's share
        wide = np.zeros((o_count, reach + kw - 1), g.dtype)  # G_wide[o, f] at f + kw − 1
        acc = np.empty((2, reach), g.dtype)
        for n in range(n_count):
            for o in range(o_count):
                for i in range(ho):
                    wide[o, kw - 1 + i * wp:kw - 1 + i * wp + wo] = g[o, n, i]
            for c in range(0, c_count, 2):
                c1 = min(c + 1, c_count - 1)  # an odd count repeats the last channel
                for p in range(kh):
                    acc[:] = 0
                    a0, a1 = acc[0], acc[1]
                    for o in range(o_count):
                        k0, k1, src = flipped[o, c, p], flipped[o, c1, p], wide[o]
                        for f in range(np.uint64(reach)):  # unsigned: no negative-index check
                            t0, t1 = a0[f], a1[f]
                            for q in range(np.uint64(kw)):
                                t0 += k0[q] * src[f + q]
                                t1 += k1[q] * src[f + q]
                            a0[f], a1[f] = t0, t1
                    flat[c, n, p * wp:p * wp + reach] += a0
                    if c1 != c:
                        flat[c1, n, p * wp:p * wp + reach] += a1

    return transpose


def _weight(flat, g, padded_width, zero, grad_w):  # pragma: no cover - compiled
    """Add ∂L/∂K (O, C, kh, kw) for the planes flat (C, N, Hp·Wp) and the output gradient
    g (O, N, Ho, Wo) into grad_w; ``zero`` is 0 in the arrays' dtype (the accumulators' type)."""
    o_count, c_count, kh, kw = grad_w.shape
    n_count, ho, wo = g.shape[1:]
    wp = padded_width
    span = (ho - 1) * wp + wo
    wide = np.zeros((2, span), g.dtype)  # g's rows Wp apart, zeros in between
    for n in range(n_count):
        for o in range(0, o_count, 2):
            o1 = min(o + 1, o_count - 1)
            for i in range(ho):
                wide[0, i * wp:i * wp + wo] = g[o, n, i]
                wide[1, i * wp:i * wp + wo] = g[o1, n, i]
            g0, g1 = wide[0], wide[1]
            for c in range(c_count):
                for p in range(kh):
                    for q in range(kw):
                        x = flat[c, n, p * wp + q:p * wp + q + span]
                        t0, t1 = zero, zero
                        for f in range(span):
                            t0 += g0[f] * x[f]
                            t1 += g1[f] * x[f]
                        grad_w[o, c, p, q] += t0
                        if o1 != o:
                            grad_w[o1, c, p, q] += t1


weight_kernel = compiled(_weight)


def _col2im(cols, buf, stride, dilation):  # pragma: no cover - compiled
    """buf[c, n, i·s + p·d, j·s + q·d] += cols[c, p, q, n, i, j] (buf (C, N, Hb, Wb), cols
    (C, kh, kw, N, Ho, Wo)), reading cols in memory order.  Indexed directly: views made in the
    inner loops (numba counts their references) cost more than the additions."""
    c_count, kh, kw, n_count, ho, wo = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    for c in range(c_count):
        for p in range(kh):
            for q in range(kw):
                for n in range(n_count):
                    for i in range(ho):
                        for j in range(wo):
                            buf[c, n, i * sh + p * dh, j * sw + q * dw] += cols[c, p, q, n, i, j]


col2im_kernel = compiled(_col2im)


def _im2col(buf, planes, stride, dilation, cols):  # pragma: no cover - compiled
    """cols[c, p, q, n, i, j] = buf[c, n, i·s + p·d, j·s + q·d] (buf (C, N, Hb, Wb) C-contiguous,
    given flat with ``planes`` = (N, Hb, Wb); cols (C, kh, kw, N, Ho, Wo)), written in memory
    order, one output row (Wo values read s apart) per innermost run.  Flat unsigned indices, so
    that the runs need no bounds or negative-index checks and vectorise.  Why: NumPy's copy of
    the strided view pays a fixed cost per run, and the deep layers' runs are 2 to 8 long."""
    c_count, kh, kw, _, ho, wo = cols.shape
    n_count, hb, wb = planes
    (sh, sw), (dh, dw) = stride, dilation
    out = cols.reshape(-1)
    step, row_step = np.uint64(sw), np.uint64(sh * wb)
    at = np.uint64(0)
    for c in range(c_count):
        for p in range(kh):
            for q in range(kw):
                for n in range(n_count):
                    read = np.uint64(((c * n_count + n) * hb + p * dh) * wb + q * dw)
                    at = _copy_rows(buf, read, step, row_step, ho, wo, out, at)


im2col_kernel = compiled(_im2col)


@inlined
def _copy_rows(src, read, step, row_step, ho, wo, out, at):  # pragma: no cover - compiled
    """out[at …] = Ho rows of Wo values of the flat ``src``, each read ``step`` apart from
    ``read`` on, rows ``row_step`` apart; returns the position after them in ``out``."""
    for _ in range(ho):
        for j in range(np.uint64(wo)):
            out[at + j] = src[read + j * step]
        at += np.uint64(wo)
        read += row_step
    return at


@inlined
def _band_taps(n_count, ho, wo, size, row_step, step):  # pragma: no cover - compiled
    """Where output k = (n, i, j) of kernel offset (0, 0) sits in a scratch of N bands of
    ``size`` values: n·size + i·row_step + j·step (empty for ``n_count`` 0)."""
    taps = np.empty(n_count * ho * wo, np.uint64)
    for k in range(taps.shape[0]):
        n, i, j = k // (ho * wo), k // wo % ho, k % wo
        taps[k] = n * size + i * row_step + j * step
    return taps


def _im2col_planes(planes, steps, first, row0, pads, stride, dilation, cols):  # pragma: no cover
    """cols[c, p, q, n, i, j] = X̃[first + n, c, (row0 + i)·s + p·d, j·s + q·d] for X's (H, W)
    planes (plane (n, c) at n·steps[0] + c·steps[1], ``layout.planes``) and X̃ = X with ``pads``
    (top, left) zeros before it: as :func:`_im2col` on a padded copy, without that copy.

    Per channel, each image's band of rows lands in a zero-bordered scratch while it is in
    cache (the rows and columns of a band that fall outside X are the same for every plane, so
    the zeros are written once), and each kernel offset's row of cols is read from there: by
    output rows where they are long, else as one gather through the offsets of the (0, 0) tap,
    which are the same for every channel and offset (with Wo of 2 or 4, a loop per output row
    costs more than its copy)."""
    c_count, kh, kw, n_count, ho, wo = cols.shape
    height, width = planes.shape[1], planes.shape[2]
    (top, left), (sh, sw), (dh, dw) = pads, stride, dilation
    hb, wb = (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1
    size = hb * wb
    band = np.zeros(n_count * size, cols.dtype)
    r0, r1 = max(0, top - row0 * sh), min(hb, height + top - row0 * sh)  # band rows inside X
    c0, c1 = max(0, left), min(wb, width + left)  # band columns inside X
    run = np.uint64(max(0, c1 - c0))
    out, source = cols.reshape(-1), planes.reshape(-1)  # flat: no view made per plane
    block = np.uint64(n_count * ho * wo)  # one (c, p, q) row of cols
    gather = wo < GATHER_MAX_WIDTH
    taps = _band_taps(n_count if gather else 0, ho, wo, size, sh * wb, sw)
    step, row_step = np.uint64(sw), np.uint64(sh * wb)
    for c in range(c_count):
        for n in range(n_count):
            plane = ((first + n) * steps[0] + c * steps[1]) * height * width
            for b in range(r0, r1):
                at = np.uint64(n * size + b * wb + c0)
                read = np.uint64(plane + (row0 * sh + b - top) * width + c0 - left)
                for j in range(run):
                    band[at + j] = source[read + j]
        for p in range(kh):
            for q in range(kw):
                at = np.uint64((c * kh + p) * kw + q) * block
                shift = np.uint64(p * dh * wb + q * dw)
                if gather:
                    for k in range(block):
                        out[at + k] = band[shift + taps[k]]
                    continue
                for n in range(n_count):
                    at = _copy_rows(band, shift + np.uint64(n * size), step, row_step, ho, wo,
                                    out, at)


im2col_planes_kernel = compiled(_im2col_planes)


def _col2im_planes(cols, first, pads, stride, dilation, planes, steps):  # pragma: no cover
    """The adjoint of :func:`_im2col_planes`: X's planes of images first … first + N − 1 (plane
    (n, c) at n·steps[0] + c·steps[1], every pixel written) = the sum of cols[c, p, q, n, i, j]
    over the windows that read each pixel of X̃ = X with ``pads`` (top, left) zeros before it,
    the padding dropped.  Per channel, the images' bands are summed in a scratch, kernel offset
    by kernel offset in the order of :func:`_col2im` (so the sums round alike), then copied into
    the planes: no padded buffer the size of the batch, and dense planes, not a cropped view."""
    c_count, kh, kw, n_count, ho, wo = cols.shape
    height, width = planes.shape[1], planes.shape[2]
    (top, left), (sh, sw), (dh, dw) = pads, stride, dilation
    hb, wb = (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1
    size = hb * wb
    band = np.empty(n_count * size, cols.dtype)
    c0, c1 = max(0, left), min(wb, width + left)  # band columns inside X
    zero = cols.dtype.type(0)
    source, out = cols.reshape(-1), planes.reshape(-1)
    block = np.uint64(n_count * ho * wo)
    gather = wo < GATHER_MAX_WIDTH
    taps = _band_taps(n_count if gather else 0, ho, wo, size, sh * wb, sw)
    step, row_step = np.uint64(sw), np.uint64(sh * wb)
    for c in range(c_count):
        band[:] = zero
        for p in range(kh):
            for q in range(kw):
                at = np.uint64((c * kh + p) * kw + q) * block
                shift = np.uint64(p * dh * wb + q * dw)
                if gather:
                    for k in range(block):
                        band[shift + taps[k]] += source[at + k]
                    continue
                for n in range(n_count):
                    write = shift + np.uint64(n * size)
                    for _ in range(ho):
                        for j in range(np.uint64(wo)):
                            band[write + j * step] += source[at + j]
                        at += np.uint64(wo)
                        write += row_step
        for n in range(n_count):
            plane = ((first + n) * steps[0] + c * steps[1]) * height * width
            for r in range(height):
                row = np.uint64(plane + r * width)
                b = r + top
                if b < 0 or b >= hb:
                    for col in range(np.uint64(width)):
                        out[row + col] = zero
                    continue
                for col in range(max(0, c0 - left)):
                    out[row + np.uint64(col)] = zero
                read = np.uint64(n * size + b * wb + c0)
                at = row + np.uint64(c0 - left)
                for j in range(np.uint64(max(0, c1 - c0))):
                    out[at + j] = band[read + j]
                for col in range(max(0, c1 - left), width):
                    out[row + np.uint64(col)] = zero


col2im_planes_kernel = compiled(_col2im_planes)
