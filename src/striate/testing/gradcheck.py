"""Central-difference gradient checking in float64.

For an op y = f(x₁, …, xₙ) and a random upstream gradient G of y's shape, the scalar
L = Σ G ⊙ f(x) has ∂L/∂xᵢ[k] ≈ (L(xᵢ[k] + ε) − L(xᵢ[k] − ε)) / 2ε, with error O(ε²).  The check
compares that with what backward() accumulates, as a norm-wise relative error

    max_k |analytic − numerical| / max(max_k |analytic|, max_k |numerical|).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor


@dataclass(frozen=True)
class Case:
    """One configuration of one op for the gradient-check table.

    ``make_inputs(rng)`` returns the float64 arrays to differentiate with respect to; ``fn`` maps
    the corresponding tensors to the op's output (it closes over any non-differentiable argument).
    """

    op: str
    config: str
    fn: Callable[..., Tensor]
    make_inputs: Callable[[np.random.Generator], Sequence[np.ndarray]]
    tol: float = 1e-6
    eps: float = 1e-6


def _loss(fn: Callable[..., Tensor], arrays: Sequence[np.ndarray], upstream: np.ndarray) -> float:
    return float((fn(*[Tensor(a) for a in arrays]).data * upstream).sum())


def numerical_gradients(fn: Callable[..., Tensor], arrays: Sequence[np.ndarray],
                        upstream: np.ndarray, eps: float = 1e-6) -> list[np.ndarray]:
    """∂(Σ upstream ⊙ fn)/∂arrays by central differences, one element at a time."""
    arrays = [a.copy() for a in arrays]
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for k in range(flat.size):
            saved = flat[k]
            flat[k] = saved + eps
            plus = _loss(fn, arrays, upstream)
            flat[k] = saved - eps
            minus = _loss(fn, arrays, upstream)
            flat[k] = saved
            gflat[k] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def analytic_gradients(fn: Callable[..., Tensor], arrays: Sequence[np.ndarray],
                       upstream: np.ndarray) -> list[np.ndarray]:
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    fn(*tensors).backward(upstream)
    return [t.grad if t.grad is not None else np.zeros_like(t.data) for t in tensors]


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    scale = max(np.abs(analytic).max(initial=0.0), np.abs(numerical).max(initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.abs(analytic - numerical).max(initial=0.0) / scale)


def check_case(case: Case, seed: int = 0) -> float:
    """The largest relative error over the case's inputs (float64, random upstream gradient)."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float64) for a in case.make_inputs(rng)]
    out = case.fn(*[Tensor(a) for a in arrays])
    upstream = rng.standard_normal(out.shape)
    analytic = analytic_gradients(case.fn, arrays, upstream)
    numerical = numerical_gradients(case.fn, arrays, upstream, case.eps)
    return max(relative_error(a, n) for a, n in zip(analytic, numerical, strict=True))


# --- inputs that keep finite differences honest --------------------------------------------------


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...],
                   margin: float = 0.05) -> np.ndarray:
    """Normal samples pushed at least ``margin`` away from 0 (the kink of ReLU-like ops)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def distinct(rng: np.random.Generator, shape: tuple[int, ...], gap: float = 0.01) -> np.ndarray:
    """Values in random order, every two at least ``gap`` apart, so max-pooling has no ties."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2) * gap
    return rng.permutation(values).reshape(shape)
