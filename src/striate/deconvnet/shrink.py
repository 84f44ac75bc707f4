"""The x sub-problem of deconvolutional inference: the exact per-element minimiser of
β/2 (x − v)² + |x|^p, for 0 < p ≤ 1 (Krishnan & Fergus 2009; Wang et al. 2008).

The coupling term makes the sparsity penalty separable, so this step costs one pass over the
maps however non-convex |x|^p is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["shrink"]


def shrink(v: Any, beta: float, p: float, newton_steps: int = 40) -> np.ndarray:
    """argmin_x β/2 (x − v)² + |x|^p, element by element, for β > 0 and 0 < p ≤ 1.

    p = 1: the soft threshold x = sign(v)·max(|v| − 1/β, 0).
    p < 1: with a = |v|, a nonzero minimiser has the sign of v and a magnitude that solves
    φ(t) = β(t − a) + p t^(p−1) = 0.  φ is convex on t > 0 with its minimum at
    t* = (p(1 − p)/β)^(1/(2 − p)); when φ(t*) < 0 and a > t*, Newton's method from t = a
    descends monotonically onto the larger root (the local minimum), which is then kept only
    where it beats x = 0, i.e. where β/2 (t − a)² + t^p < β/2 a²."""
    if not beta > 0:
        raise ValueError(f"shrink needs beta > 0, not {beta}")
    if not 0 < p <= 1:
        raise ValueError(f"shrink needs 0 < p <= 1, not {p}")
    v = np.asarray(v)
    a = np.abs(v)
    if p == 1:
        return np.sign(v) * np.maximum(a - 1.0 / beta, 0.0)
    t_star = (p * (1.0 - p) / beta) ** (1.0 / (2.0 - p))
    live = a > t_star
    a_live = a[live]
    t = a_live.copy()
    for _ in range(newton_steps):
        phi = beta * (t - a_live) + p * t ** (p - 1.0)
        dphi = np.maximum(beta + p * (p - 1.0) * t ** (p - 2.0), 1e-300)  # ≥ 0 for t ≥ t*
        step = phi / dphi
        t = np.maximum(t - step, t_star)
        if np.all(np.abs(step) <= 1e-13 * np.maximum(t, 1e-300)):
            break
    better = 0.5 * beta * (t - a_live) ** 2 + t ** p < 0.5 * beta * a_live ** 2
    out = np.zeros_like(a)
    out[live] = np.where(better, t, 0.0)
    return np.sign(v) * out
