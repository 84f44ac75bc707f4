"""The compiled weight transform of Winograd's F(m×m, 3×3) and its adjoint, for either scheme:

    U[(a, b), oc] = (G K_oc Gᵀ)[a, b]          ∂L/∂K_oc = Gᵀ ∂L/∂U_oc G

for every (output, input) channel pair oc.  As one GEMM with kron(G, G) (the references in
``winograd.py``) the inner dimension is 9 or (m + 2)², a shape BLAS runs far below its speed.  Here
each product is two passes of G over a block of channel pairs (the separable form, half the
multiply-adds), unit-stride over the pairs so the loops vectorise (two to four times faster than
the kron GEMM on ResNet-20's layers).  Each call does the pairs [first, stop), so that a large
layer's pairs are shared out over the worker threads (``winograd.transform_weight``).
"""

from __future__ import annotations

import numpy as np

from .jit import compiled

BLOCK = 256  # channel pairs a pass works on: its scratch (≤ 27 rows of them) stays in L1


@compiled
def transform(w, g, u, first, stop):  # pragma: no cover - compiled
    """u[:, first:stop] = G K Gᵀ for the kernels w[first:stop] of w (OC, 9), u ((m + 2)², OC),
    g the (m + 2)×3 matrix G."""
    size = g.shape[0]
    k = np.empty((9, BLOCK), w.dtype)  # a block of kernels, one row per entry (p, q)
    gk = np.empty((3 * size, BLOCK), w.dtype)  # G K: [(a, q), pair]
    for start in range(first, stop, BLOCK):
        count = min(BLOCK, stop - start)
        for i in range(count):
            for pq in range(9):
                k[pq, i] = w[start + i, pq]
        for a in range(size):
            g0, g1, g2 = g[a, 0], g[a, 1], g[a, 2]
            for q in range(3):
                dst, k0, k1, k2 = gk[3 * a + q], k[q], k[3 + q], k[6 + q]
                for i in range(count):
                    dst[i] = g0 * k0[i] + g1 * k1[i] + g2 * k2[i]
        for a in range(size):
            t0, t1, t2 = gk[3 * a], gk[3 * a + 1], gk[3 * a + 2]
            for b in range(size):
                g0, g1, g2 = g[b, 0], g[b, 1], g[b, 2]
                dst = u[size * a + b, start:start + count]
                for i in range(count):
                    dst[i] = t0[i] * g0 + t1[i] * g1 + t2[i] * g2


@compiled
def adjoint(grad_u, g, grad_w, first, stop):  # pragma: no cover - compiled
    """grad_w[first:stop] = Gᵀ ∂L/∂U G for the pairs [first, stop) of grad_u ((m + 2)², OC),
    grad_w (OC, 9)."""
    size = g.shape[0]
    ug = np.empty((3 * size, BLOCK), grad_u.dtype)  # ∂L/∂U G: [(a, q), pair]
    k = np.empty((9, BLOCK), grad_u.dtype)
    for start in range(first, stop, BLOCK):
        count = min(BLOCK, stop - start)
        ug[:, :count] = 0
        for a in range(size):
            d0, d1, d2 = ug[3 * a], ug[3 * a + 1], ug[3 * a + 2]
            for b in range(size):
                g0, g1, g2 = g[b, 0], g[b, 1], g[b, 2]
                src = grad_u[size * a + b, start:start + count]
                for i in range(count):
                    d0[i] += src[i] * g0
                    d1[i] += src[i] * g1
                    d2[i] += src[i] * g2
        k[:, :count] = 0
        for a in range(size):
            for p in range(3):
                gap, d = g[a, p], k[3 * p:3 * p + 3]
                for q in range(3):
                    dst, src = d[q], ug[3 * a + q]
                    for i in range(count):
                        dst[i] += gap * src[i]
        for i in range(count):
            for pq in range(9):
                grad_w[start + i, pq] = k[pq, i]
