"""The compiled transforms of Winograd's F(2×2, 5×5) (see ``winograd.py`` for the algorithm): 6×6
input tiles two pixels apart, 2×2 output tiles, 36 products per tile where a 5×5 kernel needs 100
for the same 4 outputs (2.8× fewer multiply-adds than im2col).

A 6×6 tile is what F(4×4, 3×3) transforms too, and with the same interpolation points (0, ±1, ±2,
∞) its input transform Bᵀ depends on the tile size and the points only, so this scheme reuses that
transform (``winograd_f4.make_input``, with tiles two pixels apart instead of four).  G and Aᵀ are
the Vandermonde rows of the points for a 5-tap kernel and a 2-tap output, G's row of point p
divided by Π(p − p') over the other finite points:

    G  = [[¼, 0, 0, 0, 0], [−⅙, −⅙, −⅙, −⅙, −⅙], [−⅙, ⅙, −⅙, ⅙, −⅙],
          [1/24, 1/12, ⅙, ⅓, ⅔], [1/24, −1/12, ⅙, −⅓, ⅔], [0, 0, 0, 0, 1]]
    Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 1]]

The output and gradient transforms follow ``winograd_f2.py`` (2×2 output tiles, their even and odd
columns interleaved), one factory per plane width; their gather and interleave loops repeat that
file's, because a helper inlined into a compiled kernel must live in the kernel's own file
(``winograd_scratch.py``).
"""

from __future__ import annotations

import numpy as np

from . import winograd_f4
from .jit import inlined

B_T = winograd_f4.B_T
G = np.array([[1 / 4, 0, 0, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
              [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
              [0, 0, 0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 1]], dtype=np.float64)
OUT = 2  # outputs per tile side
KERNEL = 5  # the kernel's side


def tiles(size: int) -> int:
    """Number of 2-output tiles along an axis of ``size`` outputs."""
    return -(-size // OUT)


def make_input(key: tuple[int, int, int]):
    """F(4×4, 3×3)'s input transform of 6×6 tiles, taken two pixels apart."""
    return winograd_f4.make_input(key, OUT)


def make_output(width: int):
    """The output transform for planes ``width`` wide (a compile-time constant)."""
    wt, pairs = tiles(width), width // 2

    def output(m, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = Aᵀ M_t A per tile: Aᵀ over ξ's six rows into z (two rows), then
        over its six columns into every tile's even and odd output column (one pass over all
        the chunk's tiles each), then those interleaved into y."""
        o, n, h = y.shape[:3]
        run = n * wt
        ht = (h + 1) // 2
        count = ht * run
        z = np.empty((2, 6, count), m.dtype)
        out = np.empty((2, 2, count), m.dtype)
        for oi in range(o):
            for b in range(6):
                _apply_a_t(m[b, oi], m[6 + b, oi], m[12 + b, oi], m[18 + b, oi], m[24 + b, oi],
                           m[30 + b, oi], z[0, b], z[1, b])
            for i in range(2):
                e = z[i]
                _apply_a_t(e[0], e[1], e[2], e[3], e[4], e[5], out[i, 0], out[i, 1])
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
    """The gradient transform for output planes ``width`` wide (a compile-time constant)."""
    wt, pairs = tiles(width), width // 2

    def gradient(g, m):  # pragma: no cover - compiled
        """∂L/∂M (36, O, ht·N·wt) = A ∂L/∂Y_t Aᵀ per tile, from g (O, N, Ho, Wo): every tile's
        even and odd columns gathered into d (zeros past the edges, which stay from the first
        channel on), then A over the two columns and over the two rows, each one pass over
        every tile of the chunk."""
        o, n, h = g.shape[:3]
        run = n * wt
        ht = (h + 1) // 2
        count = ht * run
        d = np.zeros((2, 2, count), g.dtype)
        rows = np.empty((2, 6, count), g.dtype)
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
                e, r = d[i], rows[i]
                _apply_a(e[0], e[1], r[0], r[1], r[2], r[3], r[4], r[5])
            for b in range(6):
                _apply_a(rows[0, b], rows[1, b], m[b, oi], m[6 + b, oi], m[12 + b, oi],
                         m[18 + b, oi], m[24 + b, oi], m[30 + b, oi])

    return gradient


@inlined
def _apply_a_t(m0, m1, m2, m3, m4, m5, z0, z1):  # pragma: no cover - compiled
    """z_i = Σ_a Aᵀ[i, a] m_a over six rows (twice a value as a sum: a product by an integer
    constant would promote float32 to float64 in Numba)."""
    for k in range(m0.size):
        s = m3[k] - m4[k]
        z0[k] = m0[k] + (m1[k] + m2[k]) + (m3[k] + m4[k])
        z1[k] = (m1[k] - m2[k]) + (s + s) + m5[k]


@inlined
def _apply_a(d0, d1, h0, h1, h2, h3, h4, h5):  # pragma: no cover - compiled
    """h_a = Σ_i A[a, i] d_i (A = (Aᵀ)ᵀ, 6×2) over two rows."""
    for k in range(d0.size):
        two_d1 = d1[k] + d1[k]
        h0[k] = d0[k]
        h1[k] = d0[k] + d1[k]
        h2[k] = d0[k] - d1[k]
        h3[k] = d0[k] + two_d1
        h4[k] = d0[k] - two_d1
        h5[k] = d1[k]
