"""Local contrast normalisation's passes over the maps, compiled (the formulas:
``ops.local_norm.LocalContrastNorm``).

With NumPy the forward walks the (N, C, H, W) maps about eight times (the sum over maps, the
subtraction, the squares and their sum, the division, and the temporaries between) and the
backward about twelve.  Per sample these loops walk them three times each way: forward, one read
for Σ_j x_j, one read and write for v = x − G(Σ_j x_j) while Σ_j v_j² accumulates, one read and
write for y = v / D; backward, one read of g and y for Σ_j g_j·y_j, one for ∂L/∂v while its sum
over maps accumulates, and one for ∂L/∂x.  Only (H, W) planes lie between: the Gaussian filter
runs on those, and v is never stored (v = y·D).  Samples are shared out over the worker threads.

The kernels take the maps as a stack of (H, W) planes and the steps that find plane (n, j) in it
(``layout.planes``), so NCHW memory and a convolution's (C, N, H, W) memory both serve
without a copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .jit import compiled, inlined
from .parallel import map_chunks, pieces_for, split

PARALLEL_MIN_BYTES = 1 << 20  # the least a thread gets: a hand-off costs about 0.1 ms


@inlined
def _gaussian(a, taps_h, taps_w, tmp, out):  # pragma: no cover - compiled
    """out = Σ_{p,q} taps_h[p]·taps_w[q]·a[r + p − ch, s + q − cw], zeros outside (same size)."""
    height, width = a.shape
    ch, cw = len(taps_h) // 2, len(taps_w) // 2
    tmp[:] = 0
    for r in range(height):
        for p in range(max(0, ch - r), min(len(taps_h), height - r + ch)):
            t, line = taps_h[p], a[r + p - ch]
            row = tmp[r]
            for s in range(width):
                row[s] += t * line[s]
    out[:] = 0
    for r in range(height):
        line, row = tmp[r], out[r]
        for q in range(len(taps_w)):
            t, offset = taps_w[q], q - cw
            for s in range(max(0, -offset), min(width, width - offset)):
                row[s] += t * line[s + offset]


@compiled
def forward_kernel(x, xs, channels, height, taps_h, taps_w, eps, y, sigma, divisor, mean_sigma,
                   first, last):  # pragma: no cover - compiled
    """y planes (P, H·W), laid out as x's (steps xs), = v / D for the samples first..last; and
    σ, D (N, H·W) and c (N,) for the backward."""
    size = x.shape[1]
    width = size // height
    total, tmp, plane = (np.empty(size, x.dtype), np.empty((height, width), x.dtype),
                         np.empty(size, x.dtype))
    for n in range(first, last):
        total[:] = 0
        for j in range(channels):
            src = x[n * xs[0] + j * xs[1]]
            for f in range(size):
                total[f] += src[f]
        _gaussian(total.reshape(height, width), taps_h, taps_w, tmp,
                  plane.reshape(height, width))  # the local mean G(Σ_j x_j)
        total[:] = 0
        for j in range(channels):
            src, dst = x[n * xs[0] + j * xs[1]], y[n * xs[0] + j * xs[1]]
            for f in range(size):
                v = src[f] - plane[f]
                dst[f] = v
                total[f] += v * v
        _gaussian(total.reshape(height, width), taps_h, taps_w, tmp,
                  plane.reshape(height, width))
        s, d = sigma[n], divisor[n]
        for f in range(size):
            s[f] = np.sqrt(max(plane[f], 0))
        c_n = s.mean()
        mean_sigma[n] = c_n
        for f in range(size):
            d[f] = max(max(s[f], c_n), eps)
            plane[f] = 1 / d[f]
        for j in range(channels):
            dst = y[n * xs[0] + j * xs[1]]
            for f in range(size):
                dst[f] *= plane[f]


@compiled
def backward_kernel(g, gs, y, ys, channels, height, taps_h, taps_w, eps, sigma, divisor,
                    mean_sigma, dx, first, last):  # pragma: no cover - compiled
    """∂L/∂x planes (P, H·W), laid out as y's (steps ys), for the output gradient planes g
    (steps gs)."""
    size = y.shape[1]
    width = size // height
    g_d, tmp, plane = (np.empty(size, y.dtype), np.empty((height, width), y.dtype),
                       np.empty(size, y.dtype))
    inverse, twice = np.empty(size, y.dtype), np.empty(size, y.dtype)
    for n in range(first, last):
        s, d, c_n = sigma[n], divisor[n], mean_sigma[n]
        g_d[:] = 0  # Σ_j g_j·y_j, then ∂L/∂D
        for j in range(channels):
            grad, out = g[n * gs[0] + j * gs[1]], y[n * ys[0] + j * ys[1]]
            for f in range(size):
                g_d[f] += grad[f] * out[f]
        via_c = 0.0
        for f in range(size):
            value = 0.0 if max(s[f], c_n) < eps else -g_d[f] / d[f]
            if s[f] >= c_n:
                g_d[f] = value
            else:
                g_d[f] = 0.0
                via_c += value
        via_c /= size
        for f in range(size):  # ∂L/∂S = ∂L/∂σ / 2σ
            g_d[f] = (g_d[f] + via_c) / (2 * s[f]) if s[f] > 0 else 0.0
        _gaussian(g_d.reshape(height, width), taps_h, taps_w, tmp, plane.reshape(height, width))
        for f in range(size):  # ∂L/∂v_j = g_j / D + 2 v_j G(∂L/∂S), with v_j = y_j·D
            inverse[f] = 1 / d[f]
            twice[f] = 2 * plane[f] * d[f]
        g_d[:] = 0  # Σ_j ∂L/∂v_j
        for j in range(channels):
            grad, out = g[n * gs[0] + j * gs[1]], y[n * ys[0] + j * ys[1]]
            dst = dx[n * ys[0] + j * ys[1]]
            for f in range(size):
                gv = grad[f] * inverse[f] + twice[f] * out[f]
                dst[f] = gv
                g_d[f] += gv
        _gaussian(g_d.reshape(height, width), taps_h, taps_w, tmp, plane.reshape(height, width))
        for j in range(channels):
            dst = dx[n * ys[0] + j * ys[1]]
            for f in range(size):
                dst[f] -= plane[f]


def forward(x: Any, x_steps: tuple[int, int], shape: tuple[int, ...], taps: tuple[Any, Any],
            eps: float) -> tuple[Any, Any, Any, Any]:
    """(y planes, σ, D, c) for the planes of x (N·C, H, W) of an (N, C, H, W) ``shape``."""
    n, c, h, w = shape
    x = x.reshape(n * c, h * w)
    y = np.empty_like(x)
    sigma, divisor = np.empty((n, h * w), x.dtype), np.empty((n, h * w), x.dtype)
    mean_sigma = np.empty(n, x.dtype)
    taps_h, taps_w = (np.asarray(t, dtype=x.dtype) for t in taps)
    _by_samples(lambda part: forward_kernel(x, x_steps, c, h, taps_h, taps_w, x.dtype.type(eps), y,
                                            sigma, divisor, mean_sigma, part.start, part.stop),
                n, x.nbytes)
    return y.reshape(n * c, h, w), sigma, divisor, mean_sigma


def backward(g: Any, g_steps: tuple[int, int], y: Any, y_steps: tuple[int, int],
             shape: tuple[int, ...], taps: tuple[Any, Any], eps: float, sigma: Any,
             divisor: Any, mean_sigma: Any) -> Any:
    """∂L/∂x planes, laid out as y's."""
    n, c, h, w = shape
    g, y = g.reshape(n * c, h * w), y.reshape(n * c, h * w)
    dx = np.empty_like(y)
    taps_h, taps_w = (np.asarray(t, dtype=y.dtype) for t in taps)
    _by_samples(lambda part: backward_kernel(g, g_steps, y, y_steps, c, h, taps_h, taps_w,
                                             y.dtype.type(eps), sigma, divisor, mean_sigma, dx,
                                             part.start, part.stop),
                n, y.nbytes)
    return dx.reshape(n * c, h, w)


def _by_samples(kernel: Any, samples: int, nbytes: int) -> None:
    pieces = pieces_for(samples, nbytes, PARALLEL_MIN_BYTES)
    map_chunks(kernel, split(samples, pieces), tiny=pieces <= 1)
