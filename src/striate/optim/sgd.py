"""Stochastic gradient descent: momentum, dampening, Nesterov, weight decay (PyTorch's rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from ..kernels.optim import sgd_step_
from ..tensor import increment_version
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False)``.

    With g_t the gradient (negated when ``maximize``), λ the weight decay, μ the momentum,
    τ the dampening and γ the learning rate, each step is

        g_t ← g_t + λ θ_{t−1}
        b_1 = g_1  (the first buffer is the gradient itself, undampened),
        b_t = μ b_{t−1} + (1 − τ) g_t
        g_t ← g_t + μ b_t  with Nesterov, else g_t ← b_t      (only when μ ≠ 0)
        θ_t = θ_{t−1} − γ g_t

    which is PyTorch's formulation (the learning rate multiplies the whole buffer, so changing
    γ mid-training rescales the step at once).  The buffer is ``state[p]['momentum_buffer']``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate {lr}: must be >= 0")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum {momentum}: must be >= 0")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}: must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening})")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            # Python floats keep float32 parameters float32 (NumPy's weak scalars).
            lr, momentum = float(group["lr"]), float(group["momentum"])
            dampening, decay = float(group["dampening"]), float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                if self._step_compiled(p, group, lr, momentum, dampening, decay):
                    increment_version(p)
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                if decay != 0:
                    grad = grad + decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.copy()
                    else:
                        buf *= momentum
                        buf += grad if dampening == 0 else (1 - dampening) * grad
                    grad = grad + momentum * buf if group["nesterov"] else buf
                p.data -= lr * grad
                increment_version(p)
        return loss

    def _step_compiled(self, p: Any, group: dict, lr: float, momentum: float, dampening: float,
                       decay: float) -> bool:
        """The step below as one compiled pass (``kernels/optim.py``, the same bits), where the
        arrays serve; False otherwise."""
        state = self.state[p] if momentum != 0 else {}
        buf = state.get("momentum_buffer")
        first = momentum != 0 and buf is None
        if first:
            buf = array_module(p.data).empty_like(p.data)
        done = sgd_step_(p.data, p.grad, buf, lr, momentum, dampening, decay,
                         group["nesterov"], group["maximize"], first)
        if done and first:
            state["momentum_buffer"] = buf
        return done
