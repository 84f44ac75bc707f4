"""The compiled transforms of Winograd's F(4×4, 3×3) (see ``winograd.py`` for the algorithm): 6×6
input tiles four pixels apart, 4×4 output tiles, 36 products per tile where F(2×2, 3×3) needs 64
for the same 16 outputs (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞):

    Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
          [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
    G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
    Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]

The price is rounding: in float32 a 16–64-channel layer's output differs from the exact
correlation by 3–7·10⁻⁶ of its largest value, against 2–3·10⁻⁷ for F(2×2, 3×3) (on ResNet-20's
layer shapes), so the convolution plan uses it only where its GEMMs dominate
(``conv_plan.WINOGRAD_F4_MIN_CHANNELS``).

The kernels follow ``winograd_f2.py``: tiles numbered (tile row, image, tile column), one factory
per kernel returning it for one plane geometry (compile-time constants, so the short copies
unroll).  Their passes run over the tiles of many tile rows at once (up to ``BLOCK_TILES`` in the
input transform, all of a chunk's in the others), not one tile row at a time: at batch 1 a tile
row is only 8 tiles, too short a loop to vectorise well.  The matrices' entries are written out
as sums: a product by an integer constant would promote float32 to float64 in Numba, and the
loops ran three times slower.
"""

from __future__ import annotations

import numpy as np

from .jit import inlined
from .winograd_scratch import column_runs

B_T = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], dtype=np.float64)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], dtype=np.float64)
OUT = 4  # outputs per tile side
KERNEL = 3  # the kernel's side
BLOCK_TILES = 512  # tiles the input transform's passes take at once (its scratch stays in L2)


def tiles(size: int) -> int:
    """Number of 4-output tiles along an axis of ``size`` outputs."""
    return -(-size // OUT)


def make_input(key: tuple[int, int, int], step: int = OUT):
    """The input transform for ``key`` = (wt, left, W): wt tile columns read from planes W wide
    padded by ``left`` columns (compile-time constants).  ``step``: the tiles' spacing, 4 here;
    F(2×2, 5×5) (``winograd_5x5.py``) takes the same 6×6 tiles and Bᵀ two pixels apart."""
    wt, left, w = key
    runs = column_runs(step, wt, left, w, 6)

    def transform(x, top, ht, v):  # pragma: no cover - compiled
        """V (36, C, ht·N·wt) of the ht × wt tiles of the planes of x (N, C, H, W) padded by
        ``top`` rows and ``left`` columns of zeros (negative: cropped), zeros past its end.

        Per channel, d[q, r', t] = row r' of tile t at column offset q (``winograd_scratch.py``);
        then Bᵀ over the six rows r' and Bᵀ again over the six columns q, each one unit-stride
        pass over every tile t of the chunk (not per tile row, whose N·wt tiles are too few at
        batch 1)."""
        n, c = x.shape[:2]
        run = n * wt  # the tiles of one tile row, over all images
        block = max(1, min(ht, BLOCK_TILES // run))  # tile rows per pass
        d = np.zeros((6, 6, block * run), x.dtype)
        rows = np.empty((6, 6, block * run), x.dtype)  # Bᵀ D: [a, q, t]
        out = np.empty((6, block * run), x.dtype)
        for ci in range(c):
            for first in range(0, ht, block):
                count = min(block, ht - first)
                copy_tile_rows(x, ci, top, step, runs, wt, first, count, d)
                for q in range(6):  # Bᵀ D over each tile's six rows
                    _apply_b_t(d[q], out)
                    for a in range(6):
                        _copy(out[a], rows[a, q])
                t, k = first * run, count * run
                for a in range(6):  # (Bᵀ D) B over its six columns
                    _apply_b_t(rows[a], out)
                    for b in range(6):
                        _copy(out[b, :k], v[6 * a + b, ci, t:t + k])

    return transform


def make_input_adjoint(key: tuple[int, int, int]):
    """The adjoint of :func:`make_input`'s transform for the same ``key`` = (wt, left, W)."""
    wt, left, w = key
    inner = (max(1, -(-left // OUT)), max(1, min(wt, (w + left - OUT) // OUT + 1)))

    def adjoint(v, top, ht, x):  # pragma: no cover - compiled
        """x (N, C, H, W) += the adjoint of the input transform applied to v (36, C, ht·N·wt):
        per tile, ∂D = B ∂V Bᵀ, added into the tile's 6×6 window of the padded planes (windows
        overlap by two rows and columns; what falls on the padding is dropped).  The forward's
        passes in reverse: B over each tile's six columns b, B over its six rows a, then every
        value added where the forward had copied it from."""
        n, c = x.shape[:2]
        run = n * wt
        block = max(1, min(ht, BLOCK_TILES // run))
        src = np.empty((6, block * run), v.dtype)
        rows = np.empty((6, 6, block * run), v.dtype)  # B over b: [a, q, t]
        d = np.empty((6, 6, block * run), v.dtype)  # then over a: [q, r', t]
        for ci in range(c):
            for first in range(0, ht, block):
                count = min(block, ht - first)
                t, k = first * run, count * run
                for a in range(6):
                    for b in range(6):
                        _copy(v[6 * a + b, ci, t:t + k], src[b])
                    _apply_b(src, rows[a])
                for q in range(6):
                    for a in range(6):
                        _copy(rows[a, q, :k], src[a])
                    _apply_b(src, d[q])
                add_tile_rows(x, ci, top, left, OUT, wt, inner, first, count, d)

    return adjoint


def make_output(width: int):
    """The output transform for planes ``width`` wide (a compile-time constant)."""
    wt, full = tiles(width), width // 4  # tiles, and those wholly inside the plane

    def output(m, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = Aᵀ M_t A per tile: Aᵀ over ξ's rows, then over its columns, each
        one pass over every tile of the chunk, then the four output columns of each tile
        interleaved into y."""
        o, n, h = y.shape[:3]
        run = n * wt  # the tiles of one tile row, over all images
        ht = (h + 3) // 4
        count = ht * run
        z = np.empty((4, 6, count), m.dtype)
        out = np.empty((4, 4, count), m.dtype)
        for oi in range(o):
            for b in range(6):
                _apply_a_t(m[b, oi], m[6 + b, oi], m[12 + b, oi], m[18 + b, oi], m[24 + b, oi],
                           m[30 + b, oi], z[0, b], z[1, b], z[2, b], z[3, b])
            for i in range(4):
                e = z[i]
                _apply_a_t(e[0], e[1], e[2], e[3], e[4], e[5],
                           out[i, 0], out[i, 1], out[i, 2], out[i, 3])
            for ti in range(ht):
                for i in range(min(4, h - 4 * ti)):
                    for ni in range(n):
                        row, t = y[oi, ni, 4 * ti + i], ti * run + ni * wt
                        for j in range(full):
                            for jj in range(4):
                                row[4 * j + jj] = out[i, jj, t + j]
                        for jj in range(width - 4 * full):  # a narrower last tile
                            row[4 * full + jj] = out[i, jj, t + full]

    return output


def make_gradient(width: int):
    """The gradient transform for output planes ``width`` wide (a compile-time constant)."""
    wt, full = tiles(width), width // 4  # tiles, and those wholly inside the plane

    def gradient(g, m):  # pragma: no cover - compiled
        """∂L/∂M (36, O, ht·N·wt) = A ∂L/∂Y_t Aᵀ per tile, from g (O, N, Ho, Wo): every tile's
        four rows of four output columns gathered into d (zeros past the edges, which stay from
        the first channel on), then A over columns and over rows, each one pass over every
        tile of the chunk."""
        o, n, h = g.shape[:3]
        run = n * wt
        ht = (h + 3) // 4
        count = ht * run
        d = np.zeros((4, 4, count), g.dtype)
        rows = np.empty((4, 6, count), g.dtype)
        for oi in range(o):
            for ti in range(ht):
                for i in range(min(4, h - 4 * ti)):  # rows past the plane keep their zeros
                    for ni in range(n):
                        row, t = g[oi, ni, 4 * ti + i], ti * run + ni * wt
                        for j in range(full):
                            for jj in range(4):
                                d[i, jj, t + j] = row[4 * j + jj]
                        for jj in range(4 * (wt - full)):  # a narrower last tile, zero-filled
                            col = 4 * full + jj
                            d[i, jj, t + full] = row[col] if col < width else 0
            for i in range(4):
                e, h_ = d[i], rows[i]
                _apply_a(e[0], e[1], e[2], e[3], h_[0], h_[1], h_[2], h_[3], h_[4], h_[5])
            for b in range(6):
                _apply_a(rows[0, b], rows[1, b], rows[2, b], rows[3, b], m[b, oi],
                         m[6 + b, oi], m[12 + b, oi], m[18 + b, oi], m[24 + b, oi], m[30 + b, oi])

    return gradient


@inlined
def _apply_b_t(d, r):  # pragma: no cover - compiled
    """r[a] = Σ_i Bᵀ[a, i] d[i] for (6, K) arrays, with the shared partial sums.  Two 2-D arrays
    rather than twelve rows, so the loop vectorises; the output and gradient transforms run
    faster on rows, so they keep them."""
    for k in range(d.shape[1]):
        d0, d1, d2, d3, d4, d5 = d[0, k], d[1, k], d[2, k], d[3, k], d[4, k], d[5, k]
        four_d0, four_d1 = (d0 + d0) + (d0 + d0), (d1 + d1) + (d1 + d1)
        four_d2, four_d3 = (d2 + d2) + (d2 + d2), (d3 + d3) + (d3 + d3)
        two_d13 = (d1 - d3) + (d1 - d3)
        r[0, k] = four_d0 - four_d2 - d2 + d4
        r[1, k] = d3 + d4 - four_d1 - four_d2
        r[2, k] = four_d1 - four_d2 + d4 - d3
        r[3, k] = d4 - d2 - two_d13
        r[4, k] = d4 - d2 + two_d13
        r[5, k] = four_d1 - four_d3 - d3 + d5


@inlined
def _apply_b(d, r):  # pragma: no cover - compiled
    """r[i] = Σ_a Bᵀ[a, i] d[a] (B applied, the adjoint of :func:`_apply_b_t`) for (6, K)
    arrays, K the length of d's rows (r's may be longer)."""
    for k in range(d.shape[1]):
        d0, d1, d2, d3, d4, d5 = d[0, k], d[1, k], d[2, k], d[3, k], d[4, k], d[5, k]
        two_d34 = (d3 - d4) + (d3 - d4)
        four_d12 = ((d1 + d2) + (d1 + d2)) + ((d1 + d2) + (d1 + d2))
        four_d21, four_d5 = ((d2 - d1) + (d2 - d1)) + ((d2 - d1) + (d2 - d1)), (d5 + d5) + (d5 + d5)
        r[0, k] = (d0 + d0) + (d0 + d0)
        r[1, k] = four_d21 - two_d34 + four_d5
        r[2, k] = -((d0 + d0) + (d0 + d0) + d0) - four_d12 - d3 - d4
        r[3, k] = d1 - d2 + two_d34 - four_d5 - d5
        r[4, k] = d0 + d1 + d2 + d3 + d4
        r[5, k] = d5


@inlined
def _copy(src, dst):  # pragma: no cover - compiled
    """dst[:] = src as a plain loop (Numba's slice assignment took twice as long here)."""
    for k in range(src.size):
        dst[k] = src[k]


@inlined
def _apply_a_t(m0, m1, m2, m3, m4, m5, z0, z1, z2, z3):  # pragma: no cover - compiled
    """z_i = Σ_a Aᵀ[i, a] m_a over six rows."""
    for k in range(m0.size):
        p, q = m1[k] + m2[k], m1[k] - m2[k]
        r, s = m3[k] + m4[k], m3[k] - m4[k]
        two_s, four_r = s + s, (r + r) + (r + r)
        z0[k] = m0[k] + p + r
        z1[k] = q + two_s
        z2[k] = p + four_r
        z3[k] = q + (two_s + two_s) + (two_s + two_s) + m5[k]


@inlined
def _apply_a(d0, d1, d2, d3, h0, h1, h2, h3, h4, h5):  # pragma: no cover - compiled
    """h_b = Σ_i A[b, i] d_i (A = (Aᵀ)ᵀ, 6×4) over four rows."""
    for k in range(d0.size):
        p, q = d0[k] + d2[k], d1[k] + d3[k]
        two_d1, four_d2 = d1[k] + d1[k], (d2[k] + d2[k]) + (d2[k] + d2[k])
        eight_d3 = ((d3[k] + d3[k]) + (d3[k] + d3[k])) + ((d3[k] + d3[k]) + (d3[k] + d3[k]))
        h0[k] = d0[k]
        h1[k] = p + q
        h2[k] = p - q
        h3[k] = d0[k] + two_d1 + four_d2 + eight_d3
        h4[k] = d0[k] - two_d1 + four_d2 - eight_d3
        h5[k] = d3[k]


@inlined
def copy_tile_rows(x, ci, top, out, runs, wt, first, count, d):  # pragma: no cover - compiled
    """d[q, r', (i − first)·N·wt + n·wt + j] = channel ``ci`` of image n, padded row m·i + r',
    column m·j + q − left, for the ``count`` tile rows i from ``first``: each tile's six rows
    side by side (a row that tile rows share is copied to each), so that one pass runs over all
    their tiles.  Rows outside the plane are zeroed; columns outside it keep the zeros d was
    made with (they are the same for every row)."""
    offsets, firsts, counts = runs
    n, h = x.shape[0], x.shape[2]
    run = n * wt
    zero = d.dtype.type(0)
    overlap = 6 - out  # rows a tile shares with the next
    for r in range(out * first, out * (first + count) + overlap):
        inside = top <= r < top + h
        for ti in range(max(first, (r - overlap) // out), min(first + count, r // out + 1)):
            rr, t = r - out * ti, (ti - first) * run  # the row's place r' in tile row ti
            if not inside:
                for q in range(len(offsets)):
                    for k in range(run):
                        d[q, rr, t + k] = zero
                continue
            for ni in range(n):
                src = x[ni, ci, r - top]
                for q in range(len(offsets)):
                    dst = d[q, rr, t + ni * wt + firsts[q]:]
                    part = src[out * firsts[q] + offsets[q]:]
                    for j in range(counts[q]):
                        dst[j] = part[out * j]


@inlined
def add_tile_rows(x, ci, top, left, out, wt, inner, first, count, d):  # pragma: no cover - compiled
    """The adjoint of :func:`copy_tile_rows`: each value of d added into channel ``ci`` of x
    where that copy read it, rows and columns outside the plane dropped.  Walked along x's rows
    rather than d's: a column two neighbouring tiles share (offset q < 2 of tile j, q + m of tile
    j − 1) gets both in one addition, so each pixel of a row is read and written once, in order
    (the copy's own order, d's columns one offset q at a time, wrote each pixel 1.5 times at
    stride m).  ``inner`` = (first, last + 1) of the tiles j ≥ 1 whose m columns all lie in the
    plane: those take no bounds checks."""
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    run = n * wt
    j_lo, j_hi = inner
    for r in range(max(out * first - top, 0), min(out * (first + count) + 2 - top, h)):
        pr = r + top  # the padded row
        for ti in range(max(first, (pr - 2) // out), min(first + count, pr // out + 1)):
            rr = pr - out * ti  # the row's place r' in tile row ti
            d0, d1, d2, d3, d4, d5 = d[0, rr], d[1, rr], d[2, rr], d[3, rr], d[4, rr], d[5, rr]
            for ni in range(n):
                dst = x[ni, ci, r]
                t = (ti - first) * run + ni * wt
                for j in range(j_lo, j_hi):
                    col = out * j - left
                    dst[col] += d0[t + j] + d4[t + j - 1]
                    dst[col + 1] += d1[t + j] + d5[t + j - 1]
                    dst[col + 2] += d2[t + j]
                    dst[col + 3] += d3[t + j]
                for j in range(wt + 1):  # the tiles at the edges
                    if j_lo <= j < j_hi:
                        continue
                    for q in range(out):
                        col = out * j + q - left
                        if 0 <= col < w:
                            total = d[q, rr, t + j] if j < wt else d.dtype.type(0)
                            if q < 2 and j > 0:
                                total += d[q + out, rr, t + j - 1]
                            dst[col] += total
