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
compiled twin (Numba); the tests check that they agree.  The tiles are numbered t = (i, n, j):
tile row, then image, then tile column.  The order is internal (V and M only meet each other), and
this one puts the tiles that one tile row of every image yields side by side, so the compiled
twins transform them in single unit-stride loops of N·wt instead of wt (4 on an 8×8 plane), and
write V and M in runs that long rather than in sixteen short interleaved streams.  Measured on one
core, float32, one piece of ResNet-20's work (65,536 input pixels), (n, i, j) order → (i, n, j):
input transform 0.16 / 0.25 / 0.42 ms → 0.08 / 0.08 / 0.08 ms on 32×32 / 16×16 / 8×8 planes,
output transform 0.10 / 0.11 / 0.20 → 0.04 / 0.05 / 0.05 ms, gradient transform 0.11 / 0.17 /
0.31 → 0.05–0.08 ms (these two compiled per plane width, so the short loops that
interleave even and odd columns unroll).  Without Numba the convolutions keep to im2col (the
NumPy transforms, which must walk strided views, were slower than im2col here).
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
    buffer, t running over (i, n, j) (tile row, image, tile column); shape (16, C, ht·N·wt)."""
    c, n, hb, wb = buf.shape
    d = _tile_view(buf, 4, 2, ((hb - 2) // 2, (wb - 2) // 2))
    b_t = B_T.astype(buf.dtype)
    return np.einsum("ai,cnhwij,bj->abchnw", b_t, d, b_t, optimize=True).reshape(16, c, -1)


def output_tiles_reference(m: Any, n: int, out_hw: tuple[int, int]) -> Any:
    """Y_t = Aᵀ M_t A for each tile, laid out as (O, N, Ho, Wo) (the tiles' overhang cut off)."""
    ht, wt = tiles(out_hw[0]), tiles(out_hw[1])
    a_t = A_T.astype(m.dtype)
    m = m.reshape(4, 4, -1, ht, n, wt)
    y = np.einsum("ia,abohnw,jb->onhiwj", a_t, m, a_t, optimize=True)
    return y.reshape(-1, n, 2 * ht, 2 * wt)[:, :, :out_hw[0], :out_hw[1]]


def gradient_tiles_reference(g: Any) -> Any:
    """∂L/∂M[ξ, o, t] = (A G_t Aᵀ)[ξ], the adjoint of :func:`output_tiles_reference`, for an
    (O, N, Ho, Wo) output gradient; shape (16, O, ht·N·wt)."""
    o, n, h, w = g.shape
    padded = np.zeros((o, n, 2 * tiles(h), 2 * tiles(w)), dtype=g.dtype)
    padded[:, :, :h, :w] = g
    gt = _tile_view(padded, 2, 2, (tiles(h), tiles(w)))
    a_t = A_T.astype(g.dtype)
    return np.einsum("ia,onhwij,jb->abohnw", a_t, gt, a_t, optimize=True).reshape(16, o, -1)


# --- compiled kernels -------------------------------------------------------------------------


def _make_input(key: tuple[int, int, int]):
    """The input transform for ``key`` = (wt, left, W): wt tile columns read from planes W wide
    padded by ``left`` columns.  All three are compile-time constants, so the copies into the
    scratch below have fixed bounds and unroll (per piece, one core: 0.13 / 0.15 / 0.17 →
    0.08 ms on 32×32 / 16×16 / 8×8 planes)."""
    wt, left, w = key
    # the four columns a tile reads in pairs, q = (parity, shift): column 2(j + shift) + parity
    # − left of the input, for j from firsts[q] on (counts[q] of them) inside the input
    offsets = tuple(2 * (q // 2) + q % 2 - left for q in range(4))
    firsts = tuple(max(0, -(offset // 2)) for offset in offsets)
    counts = tuple(max(0, min(wt - 1, (w - 1 - offset) // 2) - first + 1)
                   for offset, first in zip(offsets, firsts, strict=True))

    def transform(x, top, ht, v):  # pragma: no cover - compiled
        """V (16, C, ht·N·wt) of the ht × wt tiles of the planes of x (N, C, H, W) padded by
        ``top`` rows and ``left`` columns of zeros (negative: cropped), as far as the tiles reach
        (zeros past the input's end).

        Per channel, the padded rows are first copied into a scratch s[r, q, n·wt + j] holding
        the value at column 2(j + shift) + parity of image n: so for one tile row every tile of
        every image sits at the same position k = n·wt + j of sixteen rows of s, and both passes
        (Bᵀ over the four input rows, then B over the columns) are unit-stride loops over k,
        writing V in long runs."""
        n, c, h = x.shape[:3]
        run = n * wt  # the tiles of one tile row, over all images
        s = np.zeros((2 * ht + 2, 4, run), x.dtype)
        rows = np.empty((4, 4, run), x.dtype)
        for ci in range(c):
            for r in range(max(0, top), min(2 * ht + 2, top + h)):  # rows past the edges stay 0
                for ni in range(n):
                    src = x[ni, ci, r - top]
                    for q in range(4):
                        dst = s[r, q, ni * wt + firsts[q]:]
                        part = src[2 * firsts[q] + offsets[q]:]
                        for j in range(counts[q]):
                            dst[j] = part[2 * j]
            for ti in range(ht):
                d0, d1, d2, d3 = s[2 * ti], s[2 * ti + 1], s[2 * ti + 2], s[2 * ti + 3]
                for q in range(4):  # Bᵀ D: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3
                    b0, b1, b2, b3 = d0[q], d1[q], d2[q], d3[q]
                    r0, r1, r2, r3 = rows[0, q], rows[1, q], rows[2, q], rows[3, q]
                    for k in range(run):
                        r0[k] = b0[k] - b2[k]
                        r1[k] = b1[k] + b2[k]
                        r2[k] = b2[k] - b1[k]
                        r3[k] = b1[k] - b3[k]
                t = ti * run
                for a in range(4):  # (Bᵀ D) B: the same over columns 2j, 2j + 1, 2j + 2, 2j + 3
                    e0, o0, e1, o1 = rows[a, 0], rows[a, 1], rows[a, 2], rows[a, 3]
                    v0, v1 = v[4 * a, ci, t:t + run], v[4 * a + 1, ci, t:t + run]
                    v2, v3 = v[4 * a + 2, ci, t:t + run], v[4 * a + 3, ci, t:t + run]
                    for k in range(run):
                        v0[k] = e0[k] - e1[k]
                        v1[k] = o0[k] + e1[k]
                        v2[k] = e1[k] - o0[k]
                        v3[k] = o0[k] - o1[k]

    return transform


_input_kernels: dict[Any, Any] = {}
_output_kernels: dict[Any, Any] = {}
_gradient_kernels: dict[Any, Any] = {}


def _kernel_for(key: Any, kernels: dict[Any, Any], make) -> Any:
    """The compiled kernel ``make(key)``, compiled once per key (its compile-time constants)."""
    if key not in kernels:
        kernels[key] = compiled(make(key))
    return kernels[key]


def _make_output(width: int):
    """The output transform for planes of a given width: a compile-time constant, so the short
    loops that interleave a tile row's even and odd output columns unroll."""
    wt, pairs = tiles(width), width // 2

    def output(m, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = Aᵀ M_t A per tile: Aᵀ over ξ's rows into z, then A over its
        columns into the even and odd output columns of the tile row (over all images at
        once), then those interleaved into y."""
        o, n, h = y.shape[:3]
        run = n * wt
        z = np.empty((8, run), m.dtype)
        out = np.empty((2, 2, run), m.dtype)
        for oi in range(o):
            for ti in range((h + 1) // 2):
                t = ti * run
                for b in range(4):
                    m0, m1 = m[b, oi, t:t + run], m[4 + b, oi, t:t + run]
                    m2, m3 = m[8 + b, oi, t:t + run], m[12 + b, oi, t:t + run]
                    z0, z1 = z[b], z[4 + b]
                    for k in range(run):
                        z0[k] = m0[k] + m1[k] + m2[k]
                        z1[k] = m1[k] - m2[k] - m3[k]
                for i in range(2):
                    z0, z1, z2, z3 = z[4 * i], z[4 * i + 1], z[4 * i + 2], z[4 * i + 3]
                    even, odd = out[i, 0], out[i, 1]
                    for k in range(run):
                        even[k] = z0[k] + z1[k] + z2[k]
                        odd[k] = z1[k] - z2[k] - z3[k]
                for i in range(min(2, h - 2 * ti)):
                    for ni in range(n):
                        row = y[oi, ni, 2 * ti + i]
                        even, odd = out[i, 0, ni * wt:], out[i, 1, ni * wt:]
                        for j in range(pairs):
                            row[2 * j] = even[j]
                            row[2 * j + 1] = odd[j]
                        if pairs < wt:  # odd width: the last tile's left column only
                            row[2 * pairs] = even[pairs]

    return output


def _make_gradient(width: int):
    """The gradient transform for output planes of a given width (a compile-time constant, as in
    :func:`_make_output`)."""
    wt, pairs = tiles(width), width // 2

    def gradient(g, m):  # pragma: no cover - compiled
        """∂L/∂M (16, O, ht·N·wt) from g (O, N, Ho, Wo): a tile row's even and odd columns over
        all images gathered into d (zeros past the edges), then per tile row i of the 2×2 tile
        h_i = (g_i0, g_i0 + g_i1, g_i0 − g_i1, −g_i1), then the same over the two rows."""
        o, n, h = g.shape[:3]
        run = n * wt
        d = np.zeros((2, 2, run), g.dtype)
        hh = np.empty((2, 4, run), g.dtype)
        for oi in range(o):
            for ti in range((h + 1) // 2):
                for i in range(2):
                    if 2 * ti + i == h:  # odd height: the last tile's lower row is 0
                        d[i] = 0
                        continue
                    for ni in range(n):
                        row = g[oi, ni, 2 * ti + i]
                        even, odd = d[i, 0, ni * wt:], d[i, 1, ni * wt:]
                        for j in range(pairs):
                            even[j] = row[2 * j]
                            odd[j] = row[2 * j + 1]
                        if pairs < wt:  # odd width: the last tile's right column is 0
                            even[pairs] = row[2 * pairs]
                            odd[pairs] = 0
                for i in range(2):
                    even, odd = d[i, 0], d[i, 1]
                    h0, h1, h2, h3 = hh[i, 0], hh[i, 1], hh[i, 2], hh[i, 3]
                    for k in range(run):
                        h0[k] = even[k]
                        h1[k] = even[k] + odd[k]
                        h2[k] = even[k] - odd[k]
                        h3[k] = -odd[k]
                t = ti * run
                for b in range(4):
                    upper, lower = hh[0, b], hh[1, b]
                    m0, m1 = m[b, oi, t:t + run], m[4 + b, oi, t:t + run]
                    m2, m3 = m[8 + b, oi, t:t + run], m[12 + b, oi, t:t + run]
                    for k in range(run):
                        m0[k] = upper[k]
                        m1[k] = upper[k] + lower[k]
                        m2[k] = upper[k] - lower[k]
                        m3[k] = -lower[k]

    return gradient


def input_tiles(x: Any, top: int, left: int, tiles_hw: tuple[int, int]) -> Any:
    """V (16, C, ht·N·wt) for ``tiles_hw`` = (ht, wt) tiles of NCHW ``x`` padded by ``top`` rows
    and ``left`` columns of zeros (negative: cropped) and with zeros past its end, compiled.  The
    same as :func:`input_tiles_reference` of that padded (C, N, 2·ht + 2, 2·wt + 2) buffer."""
    n, c = x.shape[:2]
    (ht, wt), w = tiles_hw, x.shape[3]
    v = np.empty((16, c, ht * n * wt), dtype=x.dtype)
    _kernel_for((wt, left, w), _input_kernels, _make_input)(x, top, ht, v)
    return v


def output_tiles(m: Any, y: Any) -> None:
    """Write Aᵀ M_t A into the (O, N, Ho, Wo) array ``y`` (any strides), compiled."""
    _kernel_for(y.shape[3], _output_kernels, _make_output)(m, y)


def gradient_tiles(g: Any) -> Any:
    """∂L/∂M (16, O, ht·N·wt) for an (O, N, Ho, Wo) output gradient, compiled."""
    o, n, h, w = g.shape
    m = np.empty((16, o, tiles(h) * n * tiles(w)), dtype=g.dtype)
    _kernel_for(w, _gradient_kernels, _make_gradient)(g, m)
    return m
