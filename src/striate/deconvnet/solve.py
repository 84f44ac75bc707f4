"""Conjugate gradients for a symmetric positive (semi-)definite operator given only as a
function, so that every product with the system matrix can be a pair of convolutions.

Both sub-problems of a deconvolutional layer that are quadratic (the maps z with the filters
fixed, the filters with the maps fixed) are solved with it, warm-started from the last iterate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CGResult", "conjugate_gradient"]


class CGResult(NamedTuple):
    """The iterate x, the steps taken, and b − r: A x as the recursion tracked it (without a
    projection), for the caller's next warm start to reuse instead of one more product."""

    x: np.ndarray
    steps: int
    a_x: np.ndarray


def conjugate_gradient(apply_a: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
                       x0: np.ndarray | None = None, iters: int = 10, tol: float = 0.0,
                       project: Callable[[np.ndarray], np.ndarray] | None = None,
                       a_x0: np.ndarray | None = None) -> CGResult:
    """Approximately solve A x = b from x0 (zeros when None): at most ``iters`` steps, stopping
    when ‖b − A x‖ ≤ tol·‖b‖.  ``a_x0``: A x0 when the caller knows it (saves one product).

    Each step minimises f(x) = ½ xᵀA x − bᵀx over the next conjugate direction, so f never
    increases, which is what keeps the alternating minimisation monotone.  ``project`` (an
    orthogonal projection, e.g. a mask) restricts the solve to a subspace: the residual is
    projected, so every iterate stays in it when x0 does."""
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=b.dtype, copy=True)
    if x0 is None:
        r = b.copy()
    else:
        r = b - (apply_a(x) if a_x0 is None else a_x0)
    if project is not None:
        r = project(r)
    rr = _dot(r, r)
    stop = tol * tol * _dot(b, b)
    d = r.copy()
    for step in range(iters):
        if rr <= stop or rr == 0.0:
            return CGResult(x, step, b - r)
        ad = apply_a(d)
        if project is not None:
            ad = project(ad)
        curvature = _dot(d, ad)
        if curvature <= 0.0:
            return CGResult(x, step, b - r)
        alpha = rr / curvature
        x += alpha * d
        r -= alpha * ad
        rr_new = _dot(r, r)
        d *= rr_new / rr
        d += r
        rr = rr_new
    return CGResult(x, iters, b - r)


def _dot(u: Any, v: Any) -> float:
    """Σ u·v over all elements, as a Python float."""
    return float(np.einsum("i,i->", u.reshape(-1), v.reshape(-1)))  # no BLAS thread hand-off
