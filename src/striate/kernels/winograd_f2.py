"""The compiled transforms of Winograd's F(2×2, 3×3) (see ``winograd.py`` for the algorithm): 4×4
input tiles two pixels apart, 2×2 output tiles, 16 products per tile.

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]

Each factory returns a kernel for one plane geometry, whose numbers are compile-time constants so
its short loops unroll; ``winograd.py`` compiles and keeps one per geometry.
"""

from __future__ import annotations

import numpy as np

from .jit import inlined
from .winograd_scratch import column_runs

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
OUT = 2  # outputs per tile side
KERNEL = 3  # the kernel's side


def tiles(size: int) -> int:
    """Number of 2-output tiles along an axis of ``size`` outputs."""
    return -(-size // OUT)


def make_input(key: tuple[int, int, int]):
    """The input transform for ``key`` = (wt, left, W): wt tile columns read from planes W wide
    padded by ``left`` columns.  All three are compile-time constants, so the copies into the
    scratch below have fixed bounds and unroll (about twice as fast as runtime bounds)."""
    wt, left, w = key
    runs = column_runs(OUT, wt, left, w)

    def transform(x, top, ht, v):  # pragma: no cover - compiled
        """V (16, C, ht·N·wt) of the ht × wt tiles of the planes of x (N, C, H, W) padded by
        ``top`` rows and ``left`` columns of zeros (negative: cropped), as far as the tiles reach
        (zeros past the input's end).

        Per channel, the padded rows are first copied into a scratch s[q, r, n·wt + j] holding
        the value at column 2j + q of image n (``winograd_scratch.py``), and both passes (Bᵀ
        over the four input rows, then B over the columns) are unit-stride loops over k = n·wt +
        j, writing V in long runs."""
        n, c = x.shape[:2]
        run = n * wt  # the tiles of one tile row, over all images
        s = np.zeros((4, 2 * ht + 2, run), x.dtype)
        rows = np.empty((4, 4, run), x.dtype)
        for ci in range(c):
            copy_columns(x, ci, top, OUT, runs, wt, s)
            for ti in range(ht):
                for q in range(4):  # Bᵀ D: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3
                    r = 2 * ti
                    b0, b1, b2, b3 = s[q, r], s[q, r + 1], s[q, r + 2], s[q, r + 3]
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


def make_output(width: int):
    """The output transform for planes of a given width: a compile-time constant, so the short
    loops that interleave a tile row's even and odd output columns unroll."""
    wt, pairs = tiles(width), width // 2

    def output(m, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = Aᵀ M_t A per tile: Aᵀ over ξ's rows into z, then A over its
        columns into the even and odd output columns of every tile (one pass over all the
        chunk's tiles each), then those interleaved into y."""
        o, n, h = y.shape[:3]
        run = n * wt
        ht = (h + 1) // 2
        count = ht * run
        z = np.empty((8, count), m.dtype)
        out = np.empty((2, 2, count), m.dtype)
        for oi in range(o):
            for b in range(4):
                m0, m1, m2, m3 = m[b, oi], m[4 + b, oi], m[8 + b, oi], m[12 + b, oi]
                z0, z1 = z[b], z[4 + b]
                for k in range(count):
                    z0[k] = m0[k] + m1[k] + m2[k]
                    z1[k] = m1[k] - m2[k] - m3[k]
            for i in range(2):
                z0, z1, z2, z3 = z[4 * i], z[4 * i + 1], z[4 * i + 2], z[4 * i + 3]
                even, odd = out[i, 0], out[i, 1]
                for k in range(count):
                    even[k] = z0[k] + z1[k] + z2[k]
                    odd[k] = z1[k] - z2[k] - z3[k]
            for ti in range(ht):
                for i in range(min(2, h - 2 * ti)):
                    for ni in range(n):
                        row, t = y[oi, ni, 2 * ti + i], ti * run + ni * wt
                        even, odd = out[i, 0, t:], out[i, 1, t:]
                        for j in range(pairs):
                            row[2 * j] = even[j]
                            row[2 * j + 1] = odd[j]
                        if pairs < wt:  # odd width: the last tile's left column only
                            row[2 * pairs] = even[pairs]

    return output


def make_gradient(width: int):
    """The gradient transform for output planes of a given width (a compile-time constant, as in
    :func:`make_output`)."""
    wt, pairs = tiles(width), width // 2

    def gradient(g, m):  # pragma: no cover - compiled
        """∂L/∂M (16, O, ht·N·wt) from g (O, N, Ho, Wo): every tile's even and odd columns
        gathered into d (zeros past the edges, which stay from the first channel on), then per
        row i of the 2×2 tile h_i = (g_i0, g_i0 + g_i1, g_i0 − g_i1, −g_i1), then the same over
        the two rows, each one pass over all the chunk's tiles."""
        o, n, h = g.shape[:3]
        run = n * wt
        ht = (h + 1) // 2
        count = ht * run
        d = np.zeros((2, 2, count), g.dtype)
        hh = np.empty((2, 4, count), g.dtype)
        for oi in range(o):
            for ti in range(ht):
                for i in range(min(2, h - 2 * ti)):  # odd height: the last lower row stays 0
                    for ni in range(n):
                        row, t = g[oi, ni, 2 * ti + i], ti * run + ni * wt
                        even, odd = d[i, 0, t:], d[i, 1, t:]
                        for j in range(pairs):
                            even[j] = row[2 * j]
                            odd[j] = row[2 * j + 1]
                        if pairs < wt:  # odd width: the last tile's right column stays 0
                            even[pairs] = row[2 * pairs]
            for i in range(2):
                even, odd = d[i, 0], d[i, 1]
                h0, h1, h2, h3 = hh[i, 0], hh[i, 1], hh[i, 2], hh[i, 3]
                for k in range(count):
                    h0[k] = even[k]
                    h1[k] = even[k] + odd[k]
                    h2[k] = even[k] - odd[k]
                    h3[k] = -odd[k]
            for b in range(4):
                upper, lower = hh[0, b], hh[1, b]
                m0, m1, m2, m3 = m[b, oi], m[4 + b, oi], m[8 + b, oi], m[12 + b, oi]
                for k in range(count):
                    m0[k] = upper[k]
                    m1[k] = upper[k] + lower[k]
                    m2[k] = upper[k] - lower[k]
                    m3[k] = -lower[k]

    return gradient


@inlined
def copy_columns(x, ci, top, out, runs, wt, s):  # pragma: no cover - compiled
    """s[q, r, n·wt + j] = channel ``ci`` of image n, padded row r, column m·j + q − left, for
    the rows and tiles inside the plane (the rest of s keeps its zeros); ``runs`` as
    :func:`column_runs` gives them."""
    offsets, firsts, counts = runs
    n, h = x.shape[0], x.shape[2]
    for r in range(max(0, top), min(s.shape[1], top + h)):
        for ni in range(n):
            src = x[ni, ci, r - top]
            for q in range(len(offsets)):
                dst = s[q, r, ni * wt + firsts[q]:]
                part = src[out * firsts[q] + offsets[q]:]
                for j in range(counts[q]):
                    dst[j] = part[out * j]
