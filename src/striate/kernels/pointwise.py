"""The rectifier y = max(x, 0) and its gradient g · [y > 0] as single compiled passes, and a
convolution's epilogue: its bias added (at inference, a batch norm's per-channel affine map, a
residual sum) and the rectifier applied, in place.

NumPy needs two passes for the forward (``maximum``, then the mask backward keeps) and two for the
backward, and its ``maximum`` is slow for its NaN handling.  The compiled kernels walk the arrays
in memory order, whatever that order is (a convolution's output is an NCHW view of (C, N, H, W)
memory), on one thread: these passes are bound by memory bandwidth, which a second thread does
not add to.
Elsewhere (CuPy, arrays of different layouts, no Numba) the NumPy expressions in the docstrings
run instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from . import jit
from .jit import compiled
from .layout import flat


def _flat_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """1-D views of two arrays laid out alike (same shape and strides), else None."""
    if not jit.serves(a, b) or a.shape != b.shape or a.strides != b.strides:
        return None
    fa, fb = flat(a), flat(b)
    return None if fa is None or fb is None else (fa, fb)


@compiled(fastmath=False)  # max(NaN, 0) must stay NaN, as np.maximum
def _relu(x, y):  # pragma: no cover - compiled
    zero = y.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        y[i] = v if (v > 0) | (v != v) else zero


@compiled(fastmath=False)  # a NaN in y passes no gradient, as [NaN > 0] = 0
def _relu_backward(g, y, out):  # pragma: no cover - compiled
    zero = out.dtype.type(0)
    for i in range(g.size):
        out[i] = g[i] if y[i] > 0 else zero


@compiled(fastmath=False)
def _relu_backward_(g, y):  # pragma: no cover - compiled
    """g = g · [y > 0] in place.  Its own kernel: called with out = g, the one above fails the
    vectoriser's run-time overlap check and runs a mispredicted branch per element."""
    zero = g.dtype.type(0)
    for i in range(g.size):
        g[i] = g[i] if y[i] > 0 else zero


def relu(x: Any) -> Any:
    """y = max(x, 0) (NaN stays NaN), in x's memory layout."""
    y = array_module(x).empty_like(x)  # same layout as a dense x
    flats = _flat_pair(x, y)
    if flats is None:
        return array_module(x).maximum(x, 0)
    _relu(*flats)
    return y


def relu_backward(g: Any, y: Any, overwrite: bool = False) -> Any:
    """∂L/∂x = g · [y > 0] from the output y = max(x, 0) (y > 0 exactly where x > 0); written
    into g itself when ``overwrite`` (the caller's ``ctx.grad_writable``) and the layouts allow."""
    flats = _flat_pair(g, y)
    if flats is None:
        return g * (y > 0)
    if overwrite:
        _relu_backward_(*flats)
        return g
    out = np.empty_like(y)
    _relu_backward(*flats, flat(out))
    return out


def _make_affine_relu(relu: bool, residual: bool):
    @compiled(fastmath=False)  # max(NaN, 0) must stay NaN, as np.maximum
    def affine_relu(y, scale, shift, r):  # pragma: no cover - compiled
        """y[o] = y[o]·scale[o] + shift[o] (+ r[o] when ``residual``), then max(·, 0) when
        ``relu``, in place on (O, P, L) views whose rows of L are contiguous (long rows: the
        loop over them vectorises, where a plane's short rows would leave a scalar select, a
        branch on AVX2)."""
        o_count, p_count, length = y.shape
        zero = y.dtype.type(0)
        for o in range(o_count):
            a, b = scale[o], shift[o]
            for p in range(p_count):
                row, add = y[o, p], r[o, p]
                for i in range(length):
                    v = row[i] * a + b
                    if residual:
                        v += add[i]
                    if relu:
                        v = v if (v > 0) | (v != v) else zero
                    row[i] = v

    return affine_relu


_affine_relu_kernels = {(relu, residual): _make_affine_relu(relu, residual)
                        for relu in (False, True) for residual in (False, True)}


def _rows(a: Any) -> Any:
    """An (O, N, H, W) chunk as an (O, N, H·W) view when each image's rows lie back to back in
    unit steps, else None."""
    o, n, h, w = a.shape
    if a.strides[3] != a.itemsize or (h > 1 and a.strides[2] != w * a.itemsize):
        return None
    return a.reshape(o, n, h * w)


def affine_relu_(y: Any, scale: Any, shift: Any, relu: bool, residual: Any = None) -> None:
    """y = y·scale + shift per channel (y's first axis: a chunk (O, N, H, W) of a convolution's
    output; None for scale 1 or shift 0), plus ``residual`` (an array of y's shape) when given,
    then y = max(y, 0) (NaN stays NaN) when ``relu``: in place, one pass, so a convolution can
    finish each chunk of its output while the chunk is in cache instead of walking the whole
    output again for each."""
    xp = array_module(y)
    scale = xp.ones(y.shape[0], dtype=y.dtype) if scale is None else scale
    shift = xp.zeros(y.shape[0], dtype=y.dtype) if shift is None else shift
    if jit.serves(y, scale, shift) and y.ndim == 4 and (residual is None or jit.serves(residual)):
        rows = _rows(y)
        add = rows if residual is None else _rows(residual)  # unread without a residual
        if rows is not None and add is not None:
            _affine_relu_kernels[relu, residual is not None](rows, scale, shift, add)
            return
    channel = (-1,) + (1,) * (y.ndim - 1)
    y *= scale.reshape(channel)
    y += shift.reshape(channel)
    if residual is not None:
        y += residual
    if relu:
        xp.maximum(y, 0, out=y)
