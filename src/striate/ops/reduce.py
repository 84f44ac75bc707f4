"""Reductions: sum, mean, max/min along axes.  Each backward spreads the gradient back over the
reduced axes."""

from __future__ import annotations

import math
from typing import Any

from ..backend import array_module
from ..function import Context, Function


def _axes(dim: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


def channel_sum(a: Any, b: Any = None) -> Any:
    """Σ over every axis but the channel axis 1 of a (or of a·b, without forming the product): a
    bias's or batch norm's gradient.

    ``einsum`` on an (N, C, L) view: several times faster than ``sum(axis=(0, 2, …))``, and as
    accurate (docs/history/performance-log.md).
    """
    xp = array_module(a)
    shape = (a.shape[0], a.shape[1], math.prod(a.shape[2:]))  # (not -1: N may be 0)
    if b is None:
        return xp.einsum("ncl->c", a.reshape(shape))
    return xp.einsum("ncl,ncl->c", a.reshape(shape), b.reshape(shape))


def _expand_back(g, shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool):
    """Reinsert the reduced axes of g as length-1 axes, ready to broadcast over ``shape``."""
    if not keepdim:
        for a in axes:
            g = array_module(g).expand_dims(g, a)
    return g


class Sum(Function):
    """y = Σ_axes x;  ∂L/∂x = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx: Context, x, dim=None, keepdim: bool = False):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        return x.sum(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Context, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim)
        return array_module(g).broadcast_to(g, ctx.shape)


class Mean(Function):
    """y = (1/n) Σ_axes x;  ∂L/∂x = g / n broadcast back."""

    @staticmethod
    def forward(ctx: Context, x, dim=None, keepdim: bool = False):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        ctx.count = 1
        for a in ctx.axes:
            ctx.count *= x.shape[a]
        return x.mean(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Context, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim) / ctx.count
        return array_module(g).broadcast_to(g, ctx.shape)


class Max(Function):
    """y = max_axes x;  ∂L/∂x = g at the maximum (shared equally among ties), 0 elsewhere."""

    @staticmethod
    def forward(ctx: Context, x, dim=None, keepdim: bool = False, largest: bool = True):
        axes = _axes(dim, x.ndim)
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        mask = x == y
        ctx.save_for_backward(mask / mask.sum(axis=axes, keepdims=True))
        ctx.axes, ctx.keepdim = axes, keepdim
        return y if keepdim else y.squeeze(axis=axes)

    @staticmethod
    def backward(ctx: Context, g):
        (share,) = ctx.saved_tensors
        g = _expand_back(g, share.shape, ctx.axes, ctx.keepdim)
        return (g * share).astype(g.dtype, copy=False)


class Var(Function):
    """y = Σ(x − x̄)² / (n − correction);  ∂L/∂x = g · 2(x − x̄) / (n − correction)."""

    @staticmethod
    def forward(ctx: Context, x, dim=None, correction: int = 1, keepdim: bool = False):
        axes = _axes(dim, x.ndim)
        n = 1
        for a in axes:
            n *= x.shape[a]
        centred = x - x.mean(axis=axes, keepdims=True)
        ctx.save_for_backward(centred)
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, max(n - correction, 0)
        return (centred * centred).sum(axis=axes, keepdims=keepdim) / ctx.denom

    @staticmethod
    def backward(ctx: Context, g):
        (centred,) = ctx.saved_tensors
        g = _expand_back(g, centred.shape, ctx.axes, ctx.keepdim)
        return g * (2 / ctx.denom) * centred


def sum(x: Any, dim=None, keepdim: bool = False):  # noqa: A001
    return Sum.apply(x, dim, keepdim)


def mean(x: Any, dim=None, keepdim: bool = False):
    return Mean.apply(x, dim, keepdim)


def amax(x: Any, dim=None, keepdim: bool = False):
    return Max.apply(x, dim, keepdim, True)


def amin(x: Any, dim=None, keepdim: bool = False):
    return Max.apply(x, dim, keepdim, False)


def var(x: Any, dim=None, correction: int = 1, keepdim: bool = False):
    return Var.apply(x, dim, correction, keepdim)
