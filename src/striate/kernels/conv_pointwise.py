"""1×1 convolutions (stride 1, no padding, one group) as one GEMM per image on NCHW memory.

With K the (O, C) weight and X[n] an image's (C, H·W) planes,

    Y[n] = K X[n],        ∂L/∂X[n] = Kᵀ ∂L/∂Y[n],        ∂L/∂K = Σ_n ∂L/∂Y[n] X[n]ᵀ.

The adjoint in X is itself a 1×1 convolution (with Kᵀ), so it runs through :func:`correlate`
as the full correlation of the gradient.  Why: im2col of a 1×1 layer is a copy of X into
(C, N·H·W), and its output is (O, N, H, W) memory that the next layer reads through a
transposed view; here nothing is copied and the output is NCHW.  Each image's product has H·W
columns, so on small planes (2×2, 4×4) the products are too thin and im2col's single GEMM
wins (``conv_plan.POINTWISE_MIN_PIXELS``; docs/convolution-plan.md).
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pair
from .conv_plan import Pass
from .parallel import map_chunks, sum_chunks


def planes(a: Any, chunk: Chunk) -> Any:
    """The chunk's images of an NCHW array as (images, channels, rows·W): a view, also of a
    band of rows (each channel's rows lie W apart)."""
    images, rows = chunk
    part = a[images, :, rows]
    return part.reshape(*part.shape[:2], -1)


def correlate(x: Any, weight: Any, out_hw: Pair, work: Pass,
              finish: Epilogue | None = None) -> Any:
    """(O, N, H, W) view of the NCHW correlation of ``x`` with the (O, C, 1, 1) ``weight``: one
    GEMM per image of each chunk, written in place, then ``finish`` on the chunk."""
    xp = array_module(x)
    o = weight.shape[0]
    k = weight.reshape(o, -1)
    y = xp.empty((x.shape[0], o, *out_hw), dtype=x.dtype)
    y_onhw = y.transpose(1, 0, 2, 3)

    def run(chunk: Chunk) -> None:
        xp.matmul(k, planes(x, chunk), out=planes(y, chunk))
        if finish is not None:
            finish(y_onhw[:, chunk[0], chunk[1]], *chunk)

    map_chunks(run, work.chunks, work.tiny)
    return y_onhw


def weight_gradient(x: Any, g: Any, work: Pass) -> Any:
    """∂L/∂K (O, C, 1, 1) = Σ over the images of each chunk of G[n] X[n]ᵀ, summed over chunks."""
    xp = array_module(x)
    o, c = g.shape[1], x.shape[1]

    def run(chunk: Chunk) -> Any:
        gs, xs = planes(g, chunk), planes(x, chunk)
        total = gs[0] @ xs[0].T
        product = xp.empty_like(total)
        for i in range(1, gs.shape[0]):
            total += xp.matmul(gs[i], xs[i].T, out=product)
        return total

    return sum_chunks(run, work.chunks, work.tiny).reshape(o, c, 1, 1)
