"""How an array lies in memory, for the compiled kernels that walk it in order.

A convolution returns an NCHW *view* of (C, N, H, W) memory, and the layers after it keep that
layout, so "C-contiguous or not" is too coarse a question: these helpers find the order in which
an array's memory is one dense block.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def leading_pair_order(a: Any, copy: bool = False) -> tuple[Any, bool]:
    """(a, False) when ``a`` is C-contiguous; (a with its first two axes swapped, True) when that
    is; otherwise a C-contiguous copy of a if ``copy``, else None (and False)."""
    if a.flags.c_contiguous:
        return a, False
    swapped = a.swapaxes(0, 1)
    if swapped.flags.c_contiguous:
        return swapped, True
    return (np.ascontiguousarray(a) if copy else None), False


def memory_order(a: Any) -> tuple[int, ...]:
    """``a``'s axes from the largest stride to the smallest (of equal strides, the later axis
    first): the order its memory runs in."""
    strides = a.strides
    return tuple(sorted(range(len(strides)), key=lambda i: (strides[i], i), reverse=True))


def empty(shape: tuple[int, ...], order: tuple[int, ...], dtype: Any, xp: Any = np) -> Any:
    """An uninitialised array of ``shape`` whose memory runs in ``order`` (as
    :func:`memory_order` gives it), so an op can keep its input's layout."""
    buf = xp.empty(tuple(shape[i] for i in order), dtype=dtype)
    return buf.transpose(tuple(int(i) for i in np.argsort(order)))


def full(shape: tuple[int, ...], order: tuple[int, ...], value: float, dtype: Any,
         xp: Any = np) -> Any:
    """:func:`empty`, filled with ``value``."""
    a = empty(shape, order, dtype, xp)
    a[...] = value
    return a


def flat(a: Any) -> Any:
    """A 1-D view of ``a``'s memory in its own order, or None when ``a`` is not one dense block."""
    if a.flags.c_contiguous:  # the usual layouts first: NCHW, and a convolution's (C, N, H, W)
        return a.reshape(-1)
    if a.ndim > 1 and a.swapaxes(0, 1).flags.c_contiguous:
        return a.swapaxes(0, 1).reshape(-1)
    dense = a.transpose(memory_order(a))
    return dense.reshape(-1) if dense.flags.c_contiguous else None


def planes(a: Any) -> tuple[Any, tuple[int, int]]:
    """(P, H, W) planes of an (N, C, H, W) array, with no copy where its memory is NCHW or a
    convolution's (C, N, H, W) (else a C-contiguous copy), and the steps (per image, per
    channel) that find plane (n, c) among them: n·steps[0] + c·steps[1]."""
    n, c = a.shape[:2]
    dense, swapped = leading_pair_order(a, copy=True)
    return dense.reshape(n * c, *a.shape[2:]), ((1, n) if swapped else (c, 1))


def unplaned(stack: Any, steps: tuple[int, int], shape: tuple[int, ...]) -> Any:
    """The (N, C, H, W) view of a stack of planes laid out with ``steps`` (:func:`planes`)."""
    n, c, h, w = shape
    if steps == (c, 1):
        return stack.reshape(shape)
    return stack.reshape(c, n, h, w).transpose(1, 0, 2, 3)
