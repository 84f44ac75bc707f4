"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), with PyTorch's exact formulas."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from ..tensor import increment_version
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)``.

    With g_t the gradient (negated when ``maximize``), each step t = 1, 2, ... does

        g_t ← g_t + λ θ_{t−1}                     (L2 decay; AdamW instead θ ← θ (1 − γλ))
        m_t = β₁ m_{t−1} + (1 − β₁) g_t            (PyTorch writes it m.lerp_(g, 1 − β₁))
        v_t = β₂ v_{t−1} + (1 − β₂) g_t²
        v̂_t = max(v̂_{t−1}, v_t) with amsgrad, else v_t
        θ_t = θ_{t−1} − γ / (1 − β₁ᵗ) · m_t / (√v̂_t / √(1 − β₂ᵗ) + ε)

    ε is added after the bias correction of √v, as in PyTorch (not to √v itself as the paper's
    pseudo-code reads).  State per parameter: ``step`` (a float), ``exp_avg``, ``exp_avg_sq`` and,
    with amsgrad, ``max_exp_avg_sq``.
    """

    _name = "Adam"

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        name = self._name
        if not 0.0 <= lr:
            raise ValueError(f"{name}: invalid learning rate {lr}: must be >= 0")
        if not 0.0 <= eps:
            raise ValueError(f"{name}: invalid eps {eps}: must be >= 0")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta} "
                                 "(must be in [0, 1))")
        if not 0.0 <= weight_decay:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay}: must be >= 0")
        defaults = {"lr": lr, "betas": (float(betas[0]), float(betas[1])), "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            # Python floats keep float32 parameters float32 (NumPy's weak scalars).
            lr, eps, decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p, lr, beta1, beta2, eps, decay, group)
        return loss

    def _update(self, p: Any, lr: float, beta1: float, beta2: float, eps: float, decay: float,
                group: dict[str, Any]) -> None:
        xp = array_module(p.data)
        grad = -p.grad if group["maximize"] else p.grad
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        step = state["step"]
        if decay != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * decay
                increment_version(p)
            else:
                grad = grad + decay * p.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            xp.maximum(second, exp_avg_sq, out=second)
        denom = xp.sqrt(second)
        denom /= bias_correction2_sqrt
        denom += eps
        update = step_size * exp_avg
        update /= denom
        p.data -= update
        increment_version(p)


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ·(1 − γλ) before the Adam step (default λ = 0.01)."""

    _name = "AdamW"

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


def _lerp_(start: Any, end: Any, weight: float) -> None:
    """start ← start + w·(end − start) in place, evaluated as PyTorch's lerp does for rounding."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
