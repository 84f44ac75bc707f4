"""The geometry of a correlation: output sizes, zero-padded and input-dilated copies, and the
types the convolution kernels share.

Vocabulary (the same in every ``conv*`` module):

* ``pads`` ((top, bottom), (left, right)) zeros around the input; a negative pad crops;
* ``upsample`` (s_h, s_w): the input dilation of a transposed convolution's input, s − 1 zeros
  between neighbours (the stride of the forward whose adjoint it computes);
* a *chunk* (images, output rows): a piece of a kernel's work, sized to stay in cache
  (``conv_plan.chunks``); chunks run on the worker threads (``parallel.map_chunks``);
* the *kept* buffer: what the forward keeps for the weight gradient (x's im2col matrix, or
  Winograd's input tiles V), where computing it again would cost more than keeping it.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right)); may be negative
Pair = tuple[int, int]
Chunk = tuple[slice, slice]  # (images, output rows)
Chunks = tuple[Chunk, ...]


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """⌊(size + pads − d·(k − 1) − 1) / s⌋ + 1, the number of window positions along one axis."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def out_size(x_hw: tuple[int, ...], kernel: tuple[int, ...], stride: Pair, pads: Pads,
             dilation: Pair) -> Pair:
    """(Ho, Wo) of a correlation of an (H, W) plane."""
    return (output_size(x_hw[0], kernel[0], stride[0], sum(pads[0]), dilation[0]),
            output_size(x_hw[1], kernel[1], stride[1], sum(pads[1]), dilation[1]))


def spread_size(size: tuple[int, ...], upsample: Pair, pads: Pads) -> Pair:
    """(Hb, Wb) of :func:`spread`'s buffer for an input plane of ``size``."""
    return tuple(before + (n - 1) * s + 1 + after
                 for n, s, (before, after) in zip(size, upsample, pads, strict=True))


def spread(x: Any, upsample: Pair, pads: Pads) -> Any:
    """Copy NCHW ``x`` into a zero (C, N, Hb, Wb) buffer, its rows and columns ``upsample``
    apart, with ``pads`` zeros around (a negative pad crops).  ``upsample`` (1, 1) is plain zero
    padding; more is the input dilation of an output gradient (s − 1 zeros between
    neighbours, Dumoulin & Visin 2016, §4.5)."""
    xp = array_module(x)
    n, c, h, w = x.shape
    (top, _), (left, _) = pads
    sh, sw = upsample
    hb, wb = spread_size((h, w), upsample, pads)
    if upsample == (1, 1) and pads == ((0, 0), (0, 0)):
        return xp.ascontiguousarray(x.transpose(1, 0, 2, 3))
    buf = xp.zeros((c, n, hb, wb), dtype=x.dtype)
    rows, dst_rows = _landing(h, sh, top, hb)
    cols, dst_cols = _landing(w, sw, left, wb)
    if rows.stop > rows.start and cols.stop > cols.start:  # else everything was cropped
        buf[:, :, dst_rows, dst_cols] = x[:, :, rows, cols].transpose(1, 0, 2, 3)
    return buf


def _landing(size: int, step: int, offset: int, length: int) -> tuple[slice, slice]:
    """The source indices i with 0 <= offset + i·step < length, and the slice they land in."""
    first = -(offset // step) if offset < 0 else 0  # ⌈−offset / step⌉
    count = max(min(size, (length - 1 - offset) // step + 1) - first, 0)
    start = offset + first * step
    return slice(first, first + count), slice(start, start + (count - 1) * step + 1, step)


def full_pads(kernel: tuple[int, ...], stride: Pair, pads: Pads, dilation: Pair,
              out_hw: tuple[int, ...], in_hw: tuple[int, ...]) -> Pads:
    """The pads that turn the adjoint of a correlation (input ``in_hw`` → output ``out_hw``)
    into a full correlation of the upsampled output gradient: d·(k − 1) − top before and
    in − (out − 1)·s − 1 + top after (negative pads crop)."""
    return tuple((d * (k - 1) - before, size - (o - 1) * s - 1 + before)
                 for k, s, (before, _), d, o, size
                 in zip(kernel, stride, pads, dilation, out_hw, in_hw, strict=True))
