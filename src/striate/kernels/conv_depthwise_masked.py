"""Depthwise correlation with "same" padding (its stride-1 output has the input's size) and one
output channel per input channel, and its weight gradient (at stride 1 its adjoint in X is
again such a correlation, with the kernel rotated): each tap one shifted run over a whole image,
read in place, with the kernel and the borders folded into one masked weight line.  A strided
layer is computed at stride 1 and every s-th output kept (its gradient spread back onto the
stride-1 grid for the weight gradient): s² times the sums, all of them in long runs.

Index an image's C·H·W values by e = c·H·W + i·W + j.  Tap t = (p, q) of output e reads input
e + δ_t with δ_t = (p·d_h − top)·W + (q·d_w − left), and that input is X[c, …] only where
0 ≤ i + p·d_h − top < H and 0 ≤ j + q·d_w − left < W: a 0/1 mask M_t.  With the masked weight
line L_t[e] = K[c, t] · M_t[i·W + j],

    Y[n, e] = Σ_t L_t[e] · X[n, e + δ_t]
    ∂L/∂K[c, t] = Σ_{i, j} M_t[i·W + j] · A_t[c·H·W + i·W + j]
    with A_t[e] = Σ_n G[n, e] · X[n, e + δ_t]

The lines are made once per call and serve every image.  Why: the plane-wise loops
(``conv_depthwise.py``) copy each plane into a zero-padded line first, and on the 4 × 4 and
2 × 2 planes of a network's last stages those copies (runs of 2 to 4 values) and the short loops
over each plane cost more than the arithmetic; here every loop runs over a whole image, whatever
the plane size.  A read that falls outside its plane lands in the next plane or image and is
multiplied by a zero of the mask; only the images at the two ends of the batch, whose shifted
runs would leave the array, are read from a padded copy.  The lines hold kh·kw values per
input value, so on large planes they no longer stay in cache: a measured candidate only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair
from .conv_plan import Pass
from .jit import FAST_KEEPING_NAN, compiled, inlined
from .parallel import map_chunks, sum_chunks

BLOCK = 1024  # values of an image summed at a time: their nine lines' blocks stay in cache


@functools.lru_cache(maxsize=256)
def shifts_and_masks(kernel: Pair, pads: Pads, dilation: Pair, hw: Pair,
                     dtype: Any) -> tuple[Any, Any]:
    """δ_t (kh·kw,) as int64 and M_t (kh·kw, H·W) in ``dtype``, taps in row-major order; made
    once per geometry (read-only: shared by every call)."""
    (kh, kw), ((top, _), (left, _)), (dh, dw), (h, w) = kernel, pads, dilation, hw
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    shifts = np.empty(kh * kw, np.int64)
    masks = np.empty((kh * kw, h * w), dtype)
    for p in range(kh):
        for q in range(kw):
            di, dj = p * dh - top, q * dw - left
            shifts[p * kw + q] = di * w + dj
            inside = (rows + di >= 0) & (rows + di < h) & (cols + dj >= 0) & (cols + dj < w)
            masks[p * kw + q] = inside.reshape(-1)
    shifts.flags.writeable = masks.flags.writeable = False
    return shifts, masks


@inlined
def _source(flat, n, size, reach, scratch):  # pragma: no cover - compiled
    """(array, start) to read image n of ``flat`` (images of ``size`` values) from, with shifts
    down to −reach[0] and up to +reach[1]: ``flat`` itself inside the batch, else a copy in
    ``scratch`` (zeros around it) for the images at its ends."""
    start = n * size
    if start >= reach[0] and start + size + reach[1] <= flat.shape[0]:
        return flat, start
    scratch[reach[0]:reach[0] + size] = flat[start:start + size]
    return scratch, reach[0]


def _lines(taps, masks, lines):  # pragma: no cover - compiled
    """lines[t, c·H·W + f] = taps[t, c] · masks[t, f]."""
    count, channels = taps.shape
    hw = masks.shape[1]
    for t in range(count):
        mask, line = masks[t], lines[t]
        for c in range(channels):
            k, at = taps[t, c], c * hw
            for f in range(hw):
                line[at + f] = k * mask[f]


def _forward(flat, lines, shifts, reach, y, first, last):  # pragma: no cover - compiled
    """Images first … last − 1 of y (N·C·H·W) = Σ_t lines[t] ∘ X shifted by δ_t (X ``flat``,
    NCHW).  Each block is summed in a scratch row, then copied out: with stores only to memory
    it allocated, the compiler needs no check that they overlap the reads, and vectorises."""
    count, size = lines.shape
    scratch = np.zeros(reach[0] + size + reach[1], y.dtype)
    acc = np.empty(BLOCK, y.dtype)
    for n in range(first, last):
        src, start = _source(flat, n, size, reach, scratch)
        at = n * size
        for b in range(0, size, BLOCK):
            run = np.uint64(min(BLOCK, size - b))
            if count == 9:
                _nine_taps(src, start + b, lines, b, shifts, acc, run)
            else:
                for e in range(run):
                    acc[e] = 0
                for t in range(count):
                    read, line = np.uint64(start + b + shifts[t]), lines[t, b:b + run]
                    for e in range(run):  # unsigned: no negative-index check
                        acc[e] += line[e] * src[read + e]
            out = y[at + b:at + b + run]
            for e in range(run):
                out[e] = acc[e]


@inlined
def _nine_taps(src, start, lines, b, shifts, acc, run):  # pragma: no cover - compiled
    """acc[e] = Σ_t lines[t, b + e] · src[start + δ_t + e] for a 3 × 3 kernel's nine taps in
    one pass (nine per-tap passes would load and store each sum nine times)."""
    l0, l1, l2 = lines[0, b:b + run], lines[1, b:b + run], lines[2, b:b + run]
    l3, l4, l5 = lines[3, b:b + run], lines[4, b:b + run], lines[5, b:b + run]
    l6, l7, l8 = lines[6, b:b + run], lines[7, b:b + run], lines[8, b:b + run]
    r0, r1, r2 = (np.uint64(start + shifts[0]), np.uint64(start + shifts[1]),
                  np.uint64(start + shifts[2]))
    r3, r4, r5 = (np.uint64(start + shifts[3]), np.uint64(start + shifts[4]),
                  np.uint64(start + shifts[5]))
    r6, r7, r8 = (np.uint64(start + shifts[6]), np.uint64(start + shifts[7]),
                  np.uint64(start + shifts[8]))
    for e in range(run):
        acc[e] = (l0[e] * src[r0 + e] + l1[e] * src[r1 + e] + l2[e] * src[r2 + e]
                  + l3[e] * src[r3 + e] + l4[e] * src[r4 + e] + l5[e] * src[r5 + e]
                  + l6[e] * src[r6 + e] + l7[e] * src[r7 + e] + l8[e] * src[r8 + e])


def _products(flat, g, shifts, reach, acc, first, last):  # pragma: no cover - compiled
    """acc[t] += Σ_n G[n] ∘ X[n] shifted by δ_t over images first … last − 1 (both ``flat``,
    NCHW)."""
    count, size = acc.shape
    scratch = np.zeros(reach[0] + size + reach[1], acc.dtype)
    for n in range(first, last):
        src, start = _source(flat, n, size, reach, scratch)
        grad = g[n * size:(n + 1) * size]
        for t in range(count):
            read, total = np.uint64(start + shifts[t]), acc[t]
            for e in range(np.uint64(size)):
                total[e] += grad[e] * src[read + e]


lines_kernel = compiled(_lines)
forward_kernel = compiled(_forward, fastmath=FAST_KEEPING_NAN)
products_kernel = compiled(_products)


def _shifts(x: Any, kernel: Pair, pads: Pads, dilation: Pair):
    """(X flat and NCHW-contiguous, δ_t, M_t, reach = (largest shift down, up))."""
    shifts, masks = shifts_and_masks(tuple(kernel), pads, dilation, tuple(x.shape[2:]),
                                     np.dtype(x.dtype))
    reach = (max(0, -int(shifts.min())), max(0, int(shifts.max())))
    return np.ascontiguousarray(x).reshape(-1), shifts, masks, reach


def correlate(x: Any, weight: Any, pads: Pads, stride: Pair, dilation: Pair, out_hw: Pair,
              work: Pass, finish: Epilogue | None = None) -> Any:
    """(C, N, Ho, Wo) depthwise correlation of NCHW ``x`` with the (C, 1, kh, kw) ``weight``
    (a view of NCHW memory at stride 1), each chunk of images given ``finish``."""
    c = x.shape[1]
    flat, shifts, masks, reach = _shifts(x, weight.shape[2:], pads, dilation)
    lines = np.empty((len(shifts), c * x.shape[2] * x.shape[3]), dtype=x.dtype)  # one image
    lines_kernel(np.ascontiguousarray(weight.reshape(c, -1).T), masks, lines)
    full = np.empty(x.shape, dtype=x.dtype)  # the stride-1 output
    full_cnhw = full.transpose(1, 0, 2, 3)
    strided = tuple(stride) != (1, 1)
    y = np.empty((c, x.shape[0], *out_hw), dtype=x.dtype) if strided else full_cnhw
    (sh, sw) = stride

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        forward_kernel(flat, lines, shifts, reach, full.reshape(-1), images.start, images.stop)
        if strided:
            y[:, images] = full_cnhw[:, images, ::sh, ::sw]
        if finish is not None:
            finish(y[:, images], images)

    map_chunks(run, work.chunks, work.tiny)
    return y


def weight_gradient(x: Any, g: Any, kernel: Pair, pads: Pads, stride: Pair, dilation: Pair,
                    work: Pass) -> Any:
    """∂L/∂K (C, 1, kh, kw): the products A_t per chunk of images, summed over the chunks, then
    masked and summed over each plane; a strided layer's G first spread onto the stride-1
    grid (zeros between)."""
    n, c, h, w = x.shape
    flat, shifts, masks, reach = _shifts(x, kernel, pads, dilation)
    if tuple(stride) != (1, 1):
        spread = np.zeros(x.shape, dtype=g.dtype)
        spread[:, :, ::stride[0], ::stride[1]] = g
        g = spread
    g_flat = np.ascontiguousarray(g).reshape(-1)

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        acc = np.zeros((len(shifts), c * h * w), dtype=g.dtype)
        products_kernel(flat, g_flat, shifts, reach, acc, images.start, images.stop)
        return acc

    acc = sum_chunks(run, work.chunks, work.tiny).reshape(len(shifts), c, h * w)
    return np.einsum("tcf,tf->ct", acc, masks).reshape(c, 1, *kernel)
