"""Winograd's minimal filtering F(2×2, 3×3): a 3×3 stride-1 correlation with 16 multiplications per
2×2 block of outputs instead of 36.

Cut the padded input into 4×4 tiles D that overlap by two pixels (tile (i, j) starts at row 2i,
column 2j).  The 2×2 outputs that tile yields, for a 3×3 kernel K, are

    Y = Aᵀ [ (G K Gᵀ) ⊙ (Bᵀ D B) ] A

with the constant matrices below (Lavin & Gray, "Fast Algorithms for Convolutional Neural
Networks", 2016).  Summed over input channels c, the element-wise product becomes, for each of the
16 tile positions ξ = (a, b), one matrix product over channels:

    M[ξ, o, t] = Σ_c U[ξ, o, c] · V[ξ, c, t],   U = G K Gᵀ (per o, c),  V = Bᵀ D B (per c, tile t)

so a layer is three cheap transforms around 16 GEMMs with 2.25 times fewer multiply-adds than
im2col's one.  Every transform is linear, so the backward pass is made of their adjoints:

* ∂L/∂M[ξ, o, t] = (A ∂L/∂Y_t Aᵀ)[ξ]                     (:func:`gradient_tiles`)
* ∂L/∂U[ξ] = ∂L/∂M[ξ] · V[ξ]ᵀ,  ∂L/∂K = Gᵀ ∂L/∂U G        (:func:`weight_from_tiles`)
* ∂L/∂X is itself a 3×3 stride-1 correlation (with the kernel rotated), so it runs through the
  forward transforms again.

Each transform has a readable NumPy reference written with the matrices (``*_reference``) and a
compiled twin (Numba) that walks the tiles once with unit-stride loops; the tests check that they
agree.  The compiled twins read each plane with its even and odd columns stored apart (the input
transform copies it so, padded, into a scratch: :func:`_split_plane`; the gradient transform
reads a :func:`deinterleave` copy), which turns the stride-2 column reads of overlapping tiles
into two contiguous runs.  Without Numba the convolutions keep to im2col (the NumPy transforms,
which must walk strided views, were slower than im2col here).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import jit
from .jit import compiled

B_T = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)
G_KRON = np.kron(G, G)  # [(a, b), (p, q)] = G[a, p]·G[b, q]: G K Gᵀ for every (o, c) as one GEMM


def available() -> bool:
    """True when the compiled transforms can run (Numba installed) and ``STRIATE_WINOGRAD`` is not
    set to 0 (which keeps every convolution on im2col, e.g. to compare the two)."""
    return jit.available() and os.environ.get("STRIATE_WINOGRAD", "1") != "0"


def tiles(size: int) -> int:
    """Number of 2-output tiles along an axis of ``size`` outputs."""
    return -(-size // 2)


def transform_weight(weight: Any) -> Any:
    """U[ξ=(a, b), o, c] = (G K[o, c] Gᵀ)[a, b], shape (16, O, C)."""
    o, c = weight.shape[:2]
    return (G_KRON.astype(weight.dtype) @ weight.reshape(o * c, 9).T).reshape(16, o, c)


def weight_from_tiles(grad_u: Any) -> Any:
    """∂L/∂K[o, c] = Gᵀ ∂L/∂U[:, :, o, c] G, from ∂L/∂U of shape (16, O, C)."""
    _, o, c = grad_u.shape
    return (grad_u.reshape(16, o * c).T @ G_KRON.astype(grad_u.dtype)).reshape(o, c, 3, 3)


def deinterleave(buf: Any) -> Any:
    """A (C, N, Hb, Wb) buffer with even Wb as (C, N, Hb, 2, Wb/2): [..., 0, j] = column 2j,
    [..., 1, j] = column 2j + 1 (one contiguous copy)."""
    c, n, hb, wb = buf.shape
    return np.ascontiguousarray(buf.reshape(c, n, hb, wb // 2, 2).transpose(0, 1, 2, 4, 3))


# --- readable references ----------------------------------------------------------------------


def _tile_view(buf: Any, size: int, step: int, count: tuple[int, int]) -> Any:
    """The (C, N, ht, wt, size, size) view of a (C, N, H, W) array's size×size tiles, ``step``
    apart."""
    s_c, s_n, s_h, s_w = buf.strides
    return np.lib.stride_tricks.as_strided(
        buf, buf.shape[:2] + count + (size, size), (s_c, s_n, s_h * step, s_w * step, s_h, s_w),
        writeable=False)


def input_tiles_reference(buf: Any) -> Any:
    """V[ξ, c, t] = (Bᵀ D_t B)[ξ] for the 4×4 tiles D_t of a padded (C, N, 2·ht + 2, 2·wt + 2)
    buffer, t running over (n, i, j); shape (16, C, N·ht·wt)."""
    c, n, hb, wb = buf.shape
    d = _tile_view(buf, 4, 2, ((hb - 2) // 2, (wb - 2) // 2))
    b_t = B_T.astype(buf.dtype)
    return np.einsum("ai,cnhwij,bj->abcnhw", b_t, d, b_t, optimize=True).reshape(16, c, -1)


def output_tiles_reference(m: Any, n: int, out_hw: tuple[int, int]) -> Any:
    """Y_t = Aᵀ M_t A for each tile, laid out as (O, N, Ho, Wo) (the tiles' overhang cut off)."""
    ht, wt = tiles(out_hw[0]), tiles(out_hw[1])
    a_t = A_T.astype(m.dtype)
    m = m.reshape(4, 4, -1, n, ht, wt)
    y = np.einsum("ia,abonhw,jb->onhiwj", a_t, m, a_t, optimize=True)
    return y.reshape(-1, n, 2 * ht, 2 * wt)[:, :, :out_hw[0], :out_hw[1]]


def gradient_tiles_reference(g: Any) -> Any:
    """∂L/∂M[ξ, o, t] = (A G_t Aᵀ)[ξ], the adjoint of :func:`output_tiles_reference`, for an
    (O, N, Ho, Wo) output gradient; shape (16, O, N·ht·wt)."""
    o, n, h, w = g.shape
    padded = np.zeros((o, n, 2 * tiles(h), 2 * tiles(w)), dtype=g.dtype)
    padded[:, :, :h, :w] = g
    gt = _tile_view(padded, 2, 2, (tiles(h), tiles(w)))
    a_t = A_T.astype(g.dtype)
    return np.einsum("ia,onhwij,jb->abonhw", a_t, gt, a_t, optimize=True).reshape(16, o, -1)


# --- compiled kernels -------------------------------------------------------------------------


@compiled
def _split_plane(plane, top, left, split):  # pragma: no cover - compiled
    """split[r, p, j] = plane[r − top, 2j + p − left] where that lies inside the plane, else 0:
    the plane padded by ``top`` rows and ``left`` columns (negative: cropped) as far as split
    reaches, with its even and odd columns stored apart."""
    h, w = plane.shape
    rows, _, width = split.shape
    split[:] = 0
    for r in range(max(0, top), min(rows, top + h)):
        src = plane[r - top]
        for p in range(2):  # the j with column 2j + p − left inside [0, w)
            first, last = max(0, (left - p + 1) // 2), min(width - 1, (w - 1 + left - p) // 2)
            for j in range(first, last + 1):
                split[r, p, j] = src[2 * j + p - left]


@compiled
def _input_tiles(x, top, left, ht, wt, v):  # pragma: no cover - compiled
    """V (16, C, N·ht·wt) of the ht × wt tiles of the planes of x (N, C, H, W) padded by ``top``
    rows and ``left`` columns of zeros (negative: cropped), as far as the tiles reach (2·ht + 2
    rows, 2·wt + 2 columns; zeros past the input's end).  Each plane is first copied into a
    zero-filled scratch with its even and odd columns apart (split[r, parity, j] = column
    2j + parity), so every read of the transform is unit-stride; then per tile row: Bᵀ over the
    four input rows, B over columns (even e, odd d)."""
    n, c = x.shape[:2]
    split = np.empty((2 * ht + 2, 2, wt + 1), x.dtype)
    rows = np.empty((4, 2, wt + 1), x.dtype)
    for ci in range(c):
        for ni in range(n):
            _split_plane(x[ni, ci], top, left, split)
            for ti in range(ht):
                r0, r1 = split[2 * ti], split[2 * ti + 1]
                r2, r3 = split[2 * ti + 2], split[2 * ti + 3]
                for p in range(2):
                    for j in range(wt + 1):
                        rows[0, p, j] = r0[p, j] - r2[p, j]
                        rows[1, p, j] = r1[p, j] + r2[p, j]
                        rows[2, p, j] = r2[p, j] - r1[p, j]
                        rows[3, p, j] = r1[p, j] - r3[p, j]
                t = (ni * ht + ti) * wt
                for a in range(4):
                    e, d = rows[a, 0], rows[a, 1]
                    v0, v1 = v[4 * a, ci, t:t + wt], v[4 * a + 1, ci, t:t + wt]
                    v2, v3 = v[4 * a + 2, ci, t:t + wt], v[4 * a + 3, ci, t:t + wt]
                    for j in range(wt):
                        v0[j] = e[j] - e[j + 1]
                        v1[j] = d[j] + e[j + 1]
                        v2[j] = e[j + 1] - d[j]
                        v3[j] = d[j] - d[j + 1]


@compiled
def _output_tiles(m, y):  # pragma: no cover - compiled
    """y (O, N, Ho, Wo) = Aᵀ M_t A per tile: Aᵀ over ξ's rows into z, then A over its columns."""
    o, n, h, w = y.shape
    ht, wt = (h + 1) // 2, (w + 1) // 2
    pairs = w // 2
    z = np.empty((8, wt), m.dtype)
    for oi in range(o):
        for ni in range(n):
            for ti in range(ht):
                t = (ni * ht + ti) * wt
                for b in range(4):
                    m0, m1 = m[b, oi, t:t + wt], m[4 + b, oi, t:t + wt]
                    m2, m3 = m[8 + b, oi, t:t + wt], m[12 + b, oi, t:t + wt]
                    for j in range(wt):
                        z[b, j] = m0[j] + m1[j] + m2[j]
                        z[4 + b, j] = m1[j] - m2[j] - m3[j]
                for i in range(min(2, h - 2 * ti)):
                    row = y[oi, ni, 2 * ti + i]
                    for j in range(pairs):
                        row[2 * j] = z[4 * i, j] + z[4 * i + 1, j] + z[4 * i + 2, j]
                        row[2 * j + 1] = z[4 * i + 1, j] - z[4 * i + 2, j] - z[4 * i + 3, j]
                    if pairs < wt:  # odd width: the last tile's left column only
                        row[2 * pairs] = z[4 * i, pairs] + z[4 * i + 1, pairs] + z[4 * i + 2, pairs]


@compiled
def _gradient_tiles(split, m):  # pragma: no cover - compiled
    """∂L/∂M (16, O, N·ht·wt) from a deinterleaved, zero-padded gradient (O, N, 2·ht, 2, wt):
    h_i = (g_i0, g_i0 + g_i1, g_i0 − g_i1, −g_i1) per tile row i, then the same over rows."""
    o, n, hb = split.shape[:3]
    wt = split.shape[4]
    ht = hb // 2
    h = np.empty((2, 4, wt), split.dtype)
    for oi in range(o):
        for ni in range(n):
            for ti in range(ht):
                for i in range(2):
                    e, d = split[oi, ni, 2 * ti + i, 0], split[oi, ni, 2 * ti + i, 1]
                    for j in range(wt):
                        h[i, 0, j] = e[j]
                        h[i, 1, j] = e[j] + d[j]
                        h[i, 2, j] = e[j] - d[j]
                        h[i, 3, j] = -d[j]
                t = (ni * ht + ti) * wt
                for b in range(4):
                    m0, m1 = m[b, oi, t:t + wt], m[4 + b, oi, t:t + wt]
                    m2, m3 = m[8 + b, oi, t:t + wt], m[12 + b, oi, t:t + wt]
                    for j in range(wt):
                        m0[j] = h[0, b, j]
                        m1[j] = h[0, b, j] + h[1, b, j]
                        m2[j] = h[0, b, j] - h[1, b, j]
                        m3[j] = -h[1, b, j]


def input_tiles(x: Any, top: int, left: int, tiles_hw: tuple[int, int]) -> Any:
    """V (16, C, N·ht·wt) for ``tiles_hw`` = (ht, wt) tiles of NCHW ``x`` padded by ``top`` rows
    and ``left`` columns of zeros (negative: cropped) and with zeros past its end, compiled.  The
    same as :func:`input_tiles_reference` of that padded (C, N, 2·ht + 2, 2·wt + 2) buffer."""
    n, c = x.shape[:2]
    v = np.empty((16, c, n * tiles_hw[0] * tiles_hw[1]), dtype=x.dtype)
    _input_tiles(x, top, left, tiles_hw[0], tiles_hw[1], v)
    return v


def output_tiles(m: Any, y: Any) -> None:
    """Write Aᵀ M_t A into the (O, N, Ho, Wo) array ``y`` (any strides), compiled."""
    _output_tiles(m, y)


def gradient_tiles(g: Any) -> Any:
    """∂L/∂M (16, O, N·ht·wt) for an (O, N, Ho, Wo) output gradient, compiled."""
    o, n, h, w = g.shape
    padded = np.zeros((o, n, 2 * tiles(h), 2 * tiles(w)), dtype=g.dtype)
    padded[:, :, :h, :w] = g
    m = np.empty((16, o, n * tiles(h) * tiles(w)), dtype=g.dtype)
    _gradient_tiles(deinterleave(padded), m)
    return m
