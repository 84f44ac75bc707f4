"""Correlation, weight gradient and both gradients at once by Winograd's F(m×m, r×r)
(``winograd.py``): per chunk, V = input tiles, M = U V (one GEMM per tile position), Y = output
tiles of M.  Why: F(2×2, 3×3) does 2.25 and F(4×4, 3×3) 4 times fewer multiply-adds than im2col
for 3×3 stride-1 layers, F(2×2, 5×5) 2.8 times fewer for 5×5 ones (docs/convolution-plan.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from . import winograd
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair
from .conv_plan import Pass
from .parallel import map_chunks, sum_chunks


def chunk_tiles(x: Any, pads: Pads, out_hw: Pair, scheme: Any):
    """A function giving V, the input tiles of one chunk of the work (the analogue of
    ``conv_im2col.chunk_columns``), read straight from x: the compiled transform pads as it
    copies."""
    (top, _), (left, _) = pads
    wt = scheme.tiles(out_hw[1])

    def tiles(chunk: Chunk) -> Any:
        images, rows = chunk  # the chunk's tile rows start at padded row rows.start
        ht = scheme.tiles(rows.stop - rows.start)
        return winograd.input_tiles(x[images], top - rows.start, left, (ht, wt), scheme)

    return tiles


def correlate(x: Any, weight: Any, pads: Pads, out_hw: Pair, work: Pass,
              finish: Epilogue | None = None, kept: list | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` with the scheme's r×r kernel, stride 1; V
    appended to ``kept`` (if given) where the work is one chunk."""
    xp = array_module(x)
    scheme = work.scheme
    u = winograd.transform_weight(weight, scheme)
    y = xp.empty((weight.shape[0], x.shape[0], *out_hw), dtype=x.dtype)
    tiles = chunk_tiles(x, pads, out_hw, scheme)

    def run(chunk: Chunk) -> None:
        images, rows = chunk
        v = tiles(chunk)
        if kept is not None:
            kept.append(v)
        winograd.output_tiles(u @ v, y[:, images, rows], scheme)
        if finish is not None:
            finish(y[:, images, rows], images, rows)

    map_chunks(run, work.chunks, work.tiny)
    return y


def weight_gradient(x: Any, g: Any, pads: Pads, work: Pass, kept: Any = None) -> Any:
    """∂L/∂K (O, C, r, r): Σ over chunks of ∂L/∂M · Vᵀ (one GEMM per tile position, summing over
    tiles), taken back through the weight transform; ``kept``: the forward's V, where it was the
    one chunk."""
    out_hw, scheme = g.shape[2:], work.scheme
    tiles = chunk_tiles(x, pads, out_hw, scheme)

    def run(chunk: Chunk) -> Any:
        images, rows = chunk
        grad_m = winograd.gradient_tiles(g[images, :, rows].transpose(1, 0, 2, 3), scheme)
        v = kept if kept is not None else tiles(chunk)
        return grad_m @ v.transpose(0, 2, 1)

    return winograd.weight_from_tiles(sum_chunks(run, work.chunks, work.tiny), scheme)


def gradients(x: Any, g: Any, weight: Any, pads: Pads, work: Pass,
              kept: Any = None) -> tuple[Any, Any]:
    """(∂L/∂X, ∂L/∂K) together, in one pass over chunks of whole images (F(4×4, 3×3): the
    compiled input adjoint exists for it only).

    Per chunk, the backward of the forward's own arithmetic: ∂L/∂M = A G Aᵀ per output tile
    (once, for both gradients), ∂L/∂U = Σ ∂L/∂M · Vᵀ over the chunks (then ∂L/∂K = Gᵀ ∂L/∂U G),
    ∂L/∂V = Uᵀ · ∂L/∂M, and ∂L/∂X = each tile's B ∂L/∂V Bᵀ added into its window of x
    (``winograd.input_tiles_adjoint``).  Why: separately, the input gradient is the full
    correlation of G through Winograd again, an input and an output transform more per chunk
    and a second parallel region.  Chunks that cut an image's rows would add into each other's
    border rows, so those keep the separate passes."""
    c = weight.shape[1]
    out_hw, scheme = g.shape[2:], work.scheme
    (top, _), (left, _) = pads
    tiles_hw = (scheme.tiles(out_hw[0]), scheme.tiles(out_hw[1]))
    u_t = winograd.transform_weight(weight, scheme).transpose(0, 2, 1)
    tiles = chunk_tiles(x, pads, out_hw, scheme)
    gx = np.zeros((c, *x.shape[:1], *x.shape[2:]), dtype=x.dtype).transpose(1, 0, 2, 3)

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        grad_m = winograd.gradient_tiles(g[images].transpose(1, 0, 2, 3), scheme)
        winograd.input_tiles_adjoint(u_t @ grad_m, gx[images], top, left, tiles_hw, scheme)
        v = kept if kept is not None else tiles(chunk)
        return grad_m @ v.transpose(0, 2, 1)

    grad_u = sum_chunks(run, work.chunks, work.tiny)
    return gx, winograd.weight_from_tiles(grad_u, scheme)
