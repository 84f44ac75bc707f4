"""Gradient clipping, as ``torch.nn.utils.clip_grad``: rescale or clamp ``p.grad`` in place.

Clipping by norm treats all the gradients as one vector g and rescales it when it is long:

    ‖g‖_p = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p,   g ← g · min(1, max_norm / (‖g‖_p + 10⁻⁶))

so its direction is kept and one huge step (an exploding gradient) cannot throw the weights far
away.  Clipping by value clamps every element to [−clip_value, clip_value] instead, which changes
the direction.  The gradients are raw arrays (``p.grad``), written in place; the norm comes back
as a Tensor, as PyTorch's does, so it can be logged or checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import array_module
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

_Tensors = Tensor | Iterable[Tensor]


def _listed(tensors: _Tensors) -> list[Tensor]:
    """A single tensor as a one-item list; an iterable (a generator too) as a list."""
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: _Tensors) -> list:
    return [p.grad for p in _listed(parameters) if p.grad is not None]


def get_total_norm(tensors: _Tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The p-norm of ``tensors`` (Tensors or raw gradient arrays) viewed as one vector: the
    p-norm of their p-norms (p = ``inf``: the largest magnitude).  0 for no tensors.

    Each norm is computed in float64 and the total is returned in the first tensor's dtype.
    ``error_if_nonfinite`` raises RuntimeError when the total is NaN or infinite; ``foreach``
    is accepted for PyTorch compatibility (there is one implementation).
    """
    arrays = [t.data if isinstance(t, Tensor) else t for t in _listed(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(0.0)
    xp = array_module(arrays[0])
    norms = xp.stack([xp.linalg.norm(a.ravel().astype(xp.float64), norm_type) for a in arrays])
    total = xp.linalg.norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total.astype(arrays[0].dtype))


def clip_grads_with_norm_(parameters: _Tensors, max_norm: float, total_norm: Tensor | float,
                          foreach: bool | None = None) -> None:
    """Multiply every ``p.grad`` in place by min(1, max_norm / (total_norm + 10⁻⁶)).

    The factor is applied even when it is 1, as in PyTorch (no branch on the data)."""
    grads = _grads(parameters)
    if not grads:
        return
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)


def clip_grad_norm_(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    is at most ``max_norm`` (see the module docstring); return the total norm before clipping.

    Parameters without a gradient are skipped.  ``parameters`` may be one tensor or any
    iterable, a generator included (read once)."""
    parameters = _listed(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: _Tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element of ``parameters`` to [−clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        array_module(g).clip(g, -clip_value, clip_value, out=g)
