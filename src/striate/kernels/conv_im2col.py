"""Correlation by im2col and one GEMM, its adjoint by GEMM and col2im, and its weight gradient.

Memory layout: the channel axis leads and the batch follows.  A padded input is held as
(C, N, Hp, Wp), and im2col gives a (C·kh·kw, N·Ho·Wo) matrix whose rows are contiguous runs of
one image row; one GEMM  K (O, C·kh·kw) @ cols  then yields (O, N, Ho, Wo), handed to the caller
as an NCHW view (no copy).  Groups are a leading batch axis of that GEMM, so they need no loop.
Why this layout: its im2col copy was the fastest of the three tried (NHWC, NCHW-strided; see
docs/convolution-plan.md).  Each chunk's copy is multiplied while it is still in cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from . import direct, jit
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair, spread, spread_size
from .conv_plan import Pass
from .layout import planes
from .parallel import map_chunks, sum_chunks


def im2col(buf: Any, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """The (C·kh·kw, N·Ho·Wo) matrix of windows of a (C, N, Hb, Wb) buffer, row (c, p, q) holding
    buf[c, n, i·s + p·d, j·s + q·d] for every (n, i, j).  One strided view, one copy (compiled
    where it can be: ``direct.im2col_kernel``)."""
    xp = array_module(buf)
    c, n = buf.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    if kernel == stride == (1, 1) and buf.shape[2:] == out_hw and buf.flags.c_contiguous:
        return buf.reshape(c, n * ho * wo)  # every pixel is its own window: the buffer itself
    if direct.available() and jit.serves(buf) and buf.flags.c_contiguous:  # the same, compiled
        cols = xp.empty((c, kh, kw, n, ho, wo), dtype=buf.dtype)
        direct.im2col_kernel(buf.reshape(-1), buf.shape[1:], stride, dilation, cols)
        return cols.reshape(c * kh * kw, n * ho * wo)
    s_c, s_n, s_h, s_w = buf.strides
    windows = xp.lib.stride_tricks.as_strided(
        buf, (c, kh, kw, n, ho, wo), (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw))
    return windows.reshape(c * kh * kw, n * ho * wo)


def col2im(cols: Any, buf: Any, kernel: Pair, stride: Pair, dilation: Pair,
           out_hw: Pair) -> Any:
    """The adjoint of :func:`im2col`: each row (c, p, q) of a (C·kh·kw, N·Ho·Wo) matrix added back
    at the window positions it was read from, into the (C, N, Hb, Wb) ``buf`` (in place).  One
    strided slice-add per kernel offset (no scatter with repeated indices); compiled where it can
    be (``direct.col2im_kernel``, which adds a channel's offsets while its planes are in cache)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    c, n = buf.shape[:2]
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    if direct.available() and jit.serves(cols, buf):  # the same, compiled
        direct.col2im_kernel(cols, buf, stride, dilation)
        return buf
    for p in range(kh):
        for q in range(kw):
            buf[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                q * dw:q * dw + (wo - 1) * sw + 1:sw] += cols[:, p, q]
    return buf


def chunk_columns(x: Any, upsample: Pair, pads: Pads, kernel: Pair, stride: Pair,
                  dilation: Pair, out_width: int):
    """A function giving the im2col matrix of one chunk of x upsampled by ``upsample`` and
    padded by ``pads``.  No padded copy of the whole batch is held (157 MB for a 96-channel
    224 px layer at batch 8): without upsampling, the compiled loop pads each plane's band of
    rows itself as it reads it (``direct.im2col_planes_kernel``); otherwise each chunk spreads
    only the band of rows its windows read, on its own core, and im2col reads it from cache."""
    (kh, kw), (sh, _), (dh, _) = kernel, stride, dilation
    (top, bottom), height = pads[0], spread_size(x.shape[2:], upsample, pads)[0]
    pointwise = kernel == stride == (1, 1)  # its columns are the channel-major copy itself
    if upsample == (1, 1) and direct.available() and jit.serves(x) and not pointwise:
        source, steps = planes(x)  # no padded copy: the compiled loop pads each plane itself

        def from_planes(chunk: Chunk) -> Any:
            images, rows = chunk
            cols = np.empty((x.shape[1], kh, kw, images.stop - images.start,
                             rows.stop - rows.start, out_width), dtype=x.dtype)
            direct.im2col_planes_kernel(source, steps, images.start, rows.start,
                                        (top, pads[1][0]), stride, dilation, cols)
            return cols.reshape(x.shape[1] * kh * kw, -1)

        return from_planes

    def columns(chunk: Chunk) -> Any:
        images, rows = chunk
        first, stop = rows.start * sh, (rows.stop - 1) * sh + dh * (kh - 1) + 1
        band = ((top - first, bottom - (height - stop)), pads[1])  # negative pads crop
        buf = spread(x[images], upsample, band)
        return im2col(buf, kernel, stride, dilation, (rows.stop - rows.start, out_width))

    return columns


def correlate(x: Any, weight: Any, upsample: Pair, pads: Pads, stride: Pair, dilation: Pair,
              groups: int, out_hw: Pair, work: Pass, finish: Epilogue | None = None,
              kept: list | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` upsampled and padded: per chunk, im2col, then one
    GEMM (batched over groups), then ``finish`` on that chunk of the output.  The im2col matrix
    is appended to ``kept`` (if given) where the work is one chunk (the plan's ``keep``)."""
    xp = array_module(x)
    o, cg, kh, kw = weight.shape
    n, k = x.shape[0], cg * kh * kw
    w = weight.reshape(groups, o // groups, k)
    y = xp.empty((o, n, *out_hw), dtype=x.dtype)
    columns = chunk_columns(x, upsample, pads, (kh, kw), stride, dilation, out_hw[1])

    def run(chunk: Chunk) -> None:
        images, rows = chunk
        cols = columns(chunk)
        if kept is not None:
            kept.append(cols)
        y[:, images, rows] = (w @ cols.reshape(groups, k, -1)).reshape(
            o, -1, rows.stop - rows.start, out_hw[1])
        if finish is not None:
            finish(y[:, images, rows], images, rows)

    map_chunks(run, work.chunks, work.tiny)
    return y


def transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair, work: Pass) -> Any:
    """The adjoint in X as GEMM then col2im: cols = Kᵀ G, then every column added back where its
    window came from, and the padding cut off; NCHW, spatial size ``out_hw``.  Compiled, each
    chunk adds its columns in a small scratch per channel and writes dense planes
    (``direct.col2im_planes_kernel``); otherwise into a zero-padded buffer, cropped after."""
    xp = array_module(g)
    o, cg, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    (sh, sw), (dh, dw), ((top, _), (left, _)) = stride, dilation, pads
    w_t = weight.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    # dense planes, each chunk's sums in a scratch; a 1×1 layer's columns overlap nowhere, and
    # adding them into a zero buffer is the cheaper pass
    if direct.available() and jit.serves(g) and (kh, kw) != (1, 1):
        gx = xp.empty((groups * cg, n, *out_hw), dtype=g.dtype)  # channel-major, as im2col's

        def into_planes(chunk: Chunk) -> None:
            images, _ = chunk
            cols = w_t @ g[images].transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)
            direct.col2im_planes_kernel(
                cols.reshape(groups * cg, kh, kw, images.stop - images.start, ho, wo),
                images.start, (top, left), stride, dilation, gx.reshape(-1, *out_hw), (1, n))

        map_chunks(into_planes, work.chunks, work.tiny)
        return gx.transpose(1, 0, 2, 3)
    buf = xp.zeros((groups * cg, n, max(top + out_hw[0], (ho - 1) * sh + dh * (kh - 1) + 1),
                    max(left + out_hw[1], (wo - 1) * sw + dw * (kw - 1) + 1)), dtype=g.dtype)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        cols = w_t @ g[images].transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)
        col2im(cols, buf[:, images], (kh, kw), stride, dilation, (ho, wo))

    map_chunks(run, work.chunks, work.tiny)
    return buf[:, :, top:top + out_hw[0], left:left + out_hw[1]].transpose(1, 0, 2, 3)


def weight_gradient(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                    groups: int, work: Pass, kept: Any = None) -> Any:
    """∂L/∂K (O, C/G, kh, kw) = Σ over chunks of G_chunk · cols_chunkᵀ (batched over groups);
    ``kept``: the forward's im2col matrix, where the work is that one chunk."""
    o, wo, (kh, kw) = g.shape[1], g.shape[3], kernel
    og, cg = o // groups, x.shape[1] // groups
    k = cg * kh * kw
    windows = chunk_columns(x, (1, 1), pads, kernel, stride, dilation, wo)

    def run(chunk: Chunk) -> Any:  # this chunk's share of the sum over n, i, j
        images, rows = chunk
        g_chunk = g[images, :, rows].transpose(1, 0, 2, 3).reshape(groups, og, -1)
        cols = kept if kept is not None else windows(chunk)
        return g_chunk @ cols.reshape(groups, k, -1).transpose(0, 2, 1)

    return sum_chunks(run, work.chunks, work.tiny).reshape(o, cg, kh, kw)
