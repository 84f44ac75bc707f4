"""Conjugate gradients for a symmetric positive (semi-)definite operator given only as a
function, so that every product with the system matrix can be a pair of convolutions.

Both sub-problems of a deconvolutional layer that are quadratic (the maps z with the filters
fixed, the filters with the maps fixed) are solved with it, warm-started from the last iterate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["conjugate_gradient"]


def conjugate_gradient(apply_a: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
                       x0: np.ndarray | None = None, iters: int = 10, tol: float = 0.0,
                       project: Callable[[np.ndarray], np.ndarray] | None = None
                       ) -> tuple[np.ndarray, int]:
    """Approximately solve A x = b from x0 (zeros when None): at most ``iters`` steps, stopping
    when ‖b − A x‖ ≤ tol·‖b‖.  Returns (x, steps taken).

    Each step minimises f(x) = ½ xᵀA x − bᵀx over the next conjugate direction, so f never
    increases, which is what keeps the alternating minimisation monotone.  ``project`` (an
    orthogonal projection, e.g. a mask) restricts the solve to a subspace: the residual is
    projected, so every iterate stays in it when x0 does."""
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=b.dtype, copy=True)
    r = b - apply_a(x) if x0 is not None else b.copy()
    if project is not None:
        r = project(r)
    rr = _dot(r, r)
    stop = tol * tol * _dot(b, b)
    d = r.copy()
    for step in range(iters):
        if rr <= stop or rr == 0.0:
            return x, step
        ad = apply_a(d)
        if project is not None:
            ad = project(ad)
        curvature = _dot(d, ad)
        if curvature <= 0.0:
            return x, step
        alpha = rr / curvature
        x += alpha * d
        r -= alpha * ad
        rr_new = _dot(r, r)
        d *= rr_new / rr
        d += r
        rr = rr_new
    return x, iters


def _dot(u: Any, v: Any) -> float:
    """Σ u·v over all elements, as a Python float."""
    return float(np.einsum("i,i->", u.reshape(-1), v.reshape(-1)))  # no BLAS thread hand-off
