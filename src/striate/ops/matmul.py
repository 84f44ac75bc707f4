"""Matrix product, with NumPy's batching rules."""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..function import Context, Function


class MatMul(Function):
    """Y = A B;  ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G (batched over leading dims, vectors promoted)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        xp = array_module(g)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None] if b.ndim == 1 else g  # restore the axes that vector promotion dropped
        g2 = g2[..., None, :] if a.ndim == 1 else g2
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = _sum_to(ga, a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            gb = _sum_to(gb, b2.shape).reshape(b.shape)
        return ga, gb


def _sum_to(g, shape):
    """Sum the batch axes that matmul broadcast (matrix axes are left alone)."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape[:-2]) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def matmul(a: Any, b: Any):
    return MatMul.apply(a, b)
