"""Batch normalisation's passes over the activations, compiled.

With NumPy a training step of batch norm walks the activations about nine times forward (mean,
centring, variance, scaling, γ, β) and six backward, and inference twice (x·a, then + b).  Per
channel these loops do it in two reads for the statistics, one read and one write (y) for the
normalisation, one read of g and x for the backward's two sums and one more for the input
gradient (x̂ = (x − μ)/σ recomputed as x is read, rather than written out in the forward and read
back), and one pass for inference.  Sums run in float64.  Large activations have their channels
shared out over the worker threads (:func:`by_channels`).

The kernels see an activation as a C-contiguous (P, C, L) array with the channel in the middle:
(N, C, H·W) for NCHW memory, (1, C, N·H·W) for the (C, N, H, W) memory of a convolution's output
(:func:`channel_view`); other layouts, CuPy arrays, or no Numba keep to the NumPy expressions in
``ops/batch_norm.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import jit
from .jit import compiled
from .layout import leading_pair_order
from .parallel import map_chunks, pieces_for, split

PARALLEL_MIN_BYTES = 4 << 20  # the least a thread gets; see by_channels


def by_channels(kernel: Any, view: Any, *args: Any) -> None:
    """``kernel(*args, first, last)`` over ranges of the channels of ``view`` (P, C, L) that
    cover them all: one range per worker thread, on all of them at once, where each range gets
    at least ``PARALLEL_MIN_BYTES`` of the activations; else one call.  Every kernel below
    computes each channel from that channel's values alone, so the ranges are independent.

    The passes are bound by memory, which the cores share, and each hand-off to a thread has a
    fixed cost: splitting pays on large activations only (docs/convolution-plan.md, threads)."""
    channels = view.shape[1]
    pieces = pieces_for(channels, view.nbytes, PARALLEL_MIN_BYTES)
    if pieces <= 1:
        kernel(*args, 0, channels)
        return
    map_chunks(lambda part: kernel(*args, part.start, part.stop), split(channels, pieces),
               tiny=True)


def channel_view(a: Any) -> Any:
    """``a`` (N, C, *) as a C-contiguous (P, C, L) view, or None when its memory is neither
    NCHW-like nor channel-first, or it is empty (the NumPy passes take an empty batch)."""
    if not jit.serves(a) or a.ndim < 2 or a.size == 0:
        return None
    dense, swapped = leading_pair_order(a)
    if dense is None:
        return None
    return dense.reshape(1 if swapped else a.shape[0], a.shape[1], -1)


@compiled
def statistics(v, eps, momentum, unbiased, running_mean, running_var, update_mean, update_var,
               mean, inv_std, first, last):  # pragma: no cover - compiled
    """Per channel of v (P, C, L): the mean, then the biased variance σ² about it (two reads, so
    no cancellation, accumulated in float64), into ``mean`` and ``inv_std`` = 1/√(σ² + ε); and
    the running statistics moved by ``momentum`` toward them in place (where ``update_mean``,
    ``update_var``), the variance made unbiased by ``unbiased`` = M/(M − 1)."""
    p_count, length = v.shape[0], v.shape[2]
    count = p_count * length
    for c in range(first, last):
        total = 0.0
        for p in range(p_count):
            for i in range(length):
                total += v[p, c, i]
        m = total / count
        squares = 0.0
        for p in range(p_count):
            for i in range(length):
                d = v[p, c, i] - m
                squares += d * d
        var = squares / count
        mean[c], inv_std[c] = m, 1 / np.sqrt(var + eps)
        if update_mean:
            running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m
        if update_var:
            running_var[c] = (1 - momentum) * running_var[c] + momentum * var * unbiased


def _make_normalise(residual: bool, relu: bool):
    @compiled(fastmath=False)  # max(NaN, 0) must stay NaN, as np.maximum
    def normalise(v, mean, inv_std, gamma, beta, r, y, first, last):  # pragma: no cover - compiled
        """y = γ·(v − mean)·inv_std + β per channel, plus r (when ``residual``; unread
        otherwise), then max(y, 0) (when ``relu``), into y (v's shape): a residual block's
        "BN → (+ shortcut) → ReLU" in the one pass that BN alone made.  x̂ is not written out:
        the backward recomputes it from v as it reads v (one full-size write fewer a layer)."""
        p_count, length = v.shape[0], v.shape[2]
        zero = y.dtype.type(0)
        for p in range(p_count):
            for c in range(first, last):
                m, s, g, b = mean[c], inv_std[c], gamma[c], beta[c]
                for i in range(length):
                    out = (v[p, c, i] - m) * s * g + b
                    if residual:
                        out += r[p, c, i]
                    if relu:
                        out = out if (out > 0) | (out != out) else zero
                    y[p, c, i] = out

    return normalise


normalise_kernels = {(residual, relu): _make_normalise(residual, relu)
                     for residual in (False, True) for relu in (False, True)}


@compiled
def infer(v, mean, var, gamma, beta, eps, y, first, last):  # pragma: no cover - compiled
    """Inference: y = γ·(v − E)/√(Var + ε) + β per channel, folded into y = v·a + b with a and b
    computed here too (five NumPy vector operations fewer per call, which count at batch 1)."""
    p_count, c_count, length = v.shape
    scale, shift = np.empty(c_count, y.dtype), np.empty(c_count, y.dtype)
    for c in range(first, last):
        scale[c] = gamma[c] / np.sqrt(var[c] + eps)
        shift[c] = beta[c] - mean[c] * scale[c]
    for p in range(p_count):
        for c in range(first, last):
            a, b = scale[c], shift[c]
            for i in range(length):
                y[p, c, i] = v[p, c, i] * a + b


def _make_backward(masked: bool):
    """The training backward's two passes over g and the saved input v, x̂ = (v − mean)·inv_std
    recomputed per value; ``masked``: g taken as g·[z > 0], the gradient through a rectifier
    whose output was z (a fused "BN → ReLU"), without writing that product out (z unread
    otherwise)."""

    @compiled
    def gradient_sums(g, z, v, mean, inv_std, sum_g, sum_gx, first,
                      last):  # pragma: no cover - compiled
        """Per channel: Σ g and Σ g·x̂ (float64 accumulators)."""
        p_count, length = g.shape[0], g.shape[2]
        zero = g.dtype.type(0)
        for c in range(first, last):
            m, total, dot = mean[c], 0.0, 0.0
            for p in range(p_count):
                for i in range(length):
                    gi = g[p, c, i]
                    if masked:
                        gi = gi if z[p, c, i] > 0 else zero
                    total += gi
                    dot += gi * (v[p, c, i] - m)
            sum_g[c], sum_gx[c] = total, dot * inv_std[c]

    @compiled
    def input_gradient(g, z, v, mean, inv_std, scale, mean_g, mean_gx, gx, first,
                       last):  # pragma: no cover - compiled
        """gx = scale·(g − mean_g − x̂·mean_gx) per channel (the training backward)."""
        p_count, length = g.shape[0], g.shape[2]
        zero = g.dtype.type(0)
        for p in range(p_count):
            for c in range(first, last):
                s, m, mg, k = scale[c], mean[c], mean_g[c], inv_std[c] * mean_gx[c]
                for i in range(length):
                    gi = g[p, c, i]
                    if masked:
                        gi = gi if z[p, c, i] > 0 else zero
                    gx[p, c, i] = s * (gi - mg - (v[p, c, i] - m) * k)

    return gradient_sums, input_gradient


backward_kernels = {masked: _make_backward(masked) for masked in (False, True)}


def like(a: Any, view: Any) -> tuple[Any, Any]:
    """A new array laid out as ``a`` (N, C, *) and its (P, C, L) view matching ``view``."""
    out = np.empty_like(a)
    out_view = channel_view(out)
    assert out_view is not None and out_view.shape == view.shape
    return out, out_view


def vector(v: Any, dtype: Any, channels: int, default: float) -> Any:
    """A per-channel vector as a contiguous array of ``dtype`` (``default`` where v is None)."""
    if v is None:
        return np.full(channels, default, dtype=dtype)
    return np.ascontiguousarray(v, dtype=dtype)
