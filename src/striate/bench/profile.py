"""Where a training step's time goes: each layer's forward and backward time and GFLOP/s.

Forward time is measured around each leaf module's call (forward pre- and post-hooks); backward
time is the engine's time in the backward of every op recorded while that layer ran.  Ops recorded
outside any leaf layer (the loss, residual additions, concatenations) are listed as "(between
layers)".  FLOPs are those of ``striate.nn.summary`` (2 per multiply-accumulate, conv and linear);
a backward does about twice a forward's.  Each convolution's row names its plan: the algorithm of
its forward, input gradient (dX) and weight gradient (dW), as ``kernels/conv_plan.py`` chose them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import profiling
from ..nn.module import Module
from ..nn.summary import summarize

OUTSIDE = "(between layers)"


@dataclass
class LayerTime:
    name: str
    kind: str
    forward_s: float
    backward_s: float
    flops: int  # forward, for the whole batch
    plan: str = ""  # a convolution's plan (ConvPlan.summary()), else ""


class _Recorder:
    """Hooks that attribute forward and backward time to the leaf layer running at the time."""

    def __init__(self, model: Module):
        self.current: list[str] = []
        self.forward: dict[str, float] = defaultdict(float)
        self.backward: dict[str, float] = defaultdict(float)
        self.plans: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.handles = []
        for name, module in model.named_modules():
            if name and not any(True for _ in module.children()):
                self.handles.append(module.register_forward_pre_hook(
                    lambda m, inputs, name=name: self._enter(name)))
                self.handles.append(module.register_forward_hook(
                    lambda m, inputs, out, name=name: self._leave(name)))

    def _enter(self, name: str) -> None:
        self.current.append(name)
        self.started[name] = time.perf_counter()

    def _leave(self, name: str) -> None:
        self.forward[name] += time.perf_counter() - self.started.pop(name)
        self.current.pop()

    def on_record(self, ctx: Any) -> None:
        ctx.profile_layer = self.current[-1] if self.current else OUTSIDE

    def on_backward(self, ctx: Any, seconds: float) -> None:
        layer = getattr(ctx, "profile_layer", OUTSIDE)
        self.backward[layer] += seconds
        plan = getattr(ctx, "plan", None)
        if plan is not None and layer != OUTSIDE:
            self.plans[layer] = plan.summary()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def profile_step(model: Module, images: np.ndarray, labels: np.ndarray, steps: int = 3,
                 optimizer: Any = None) -> tuple[list[LayerTime], float, float]:
    """Per-layer times of a training step, averaged over ``steps`` after one warm-up step.

    Returns (rows, seconds per whole step, seconds per optimiser step)."""
    from ..nn import functional as F
    from ..optim import SGD
    from ..tensor import Tensor

    optimizer = optimizer or SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = Tensor(images), Tensor(labels)
    flops = {r.name: (r.kind, r.flops * len(images)) for r in summarize(model, images.shape[1:])}
    model.train()

    def step() -> float:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        started = time.perf_counter()
        optimizer.step()
        return time.perf_counter() - started

    step()
    recorder = _Recorder(model)
    previous, profiling.profiler = profiling.profiler, recorder
    try:
        started = time.perf_counter()
        optim_s = sum(step() for _ in range(steps)) / steps
        total = (time.perf_counter() - started) / steps
    finally:
        profiling.profiler = previous
        recorder.remove()
    names = list(flops) + ([OUTSIDE] if OUTSIDE in recorder.backward else [])
    rows = [LayerTime(n, flops.get(n, ("", 0))[0], recorder.forward.get(n, 0.0) / steps,
                      recorder.backward.get(n, 0.0) / steps, flops.get(n, ("", 0))[1],
                      recorder.plans.get(n, "")) for n in names]
    return rows, total, optim_s


def format_profile(rows: list[LayerTime], total: float, optim_s: float, title: str) -> str:
    def rate(flops: float, seconds: float) -> str:
        return f"{flops / seconds / 1e9:6.1f}" if flops and seconds > 0 else "     -"

    width = max(len(f"{r.name} ({r.kind})") for r in rows)
    head = f"{'layer':<{width}}  {'fwd ms':>8} {'bwd ms':>8} {'share':>6}  {'fwd GFLOP/s':>11} " \
           f"{'bwd GFLOP/s':>11}  plan"
    lines = [title, head, "-" * len(head)]
    for r in sorted(rows, key=lambda r: -(r.forward_s + r.backward_s)):
        label = f"{r.name} ({r.kind})" if r.kind else r.name
        share = 100 * (r.forward_s + r.backward_s) / total
        lines.append(f"{label:<{width}}  {1e3 * r.forward_s:8.2f} {1e3 * r.backward_s:8.2f} "
                     f"{share:5.1f}%  {rate(r.flops, r.forward_s):>11} "
                     f"{rate(2 * r.flops, r.backward_s):>11}  {r.plan}".rstrip())
    covered = sum(r.forward_s + r.backward_s for r in rows) + optim_s
    lines.append("-" * len(head))
    lines.append(f"optimiser step {1e3 * optim_s:.2f} ms; whole step {1e3 * total:.2f} ms "
                 f"({len(rows)} layers cover {100 * covered / total:.0f}% of it)")
    return "\n".join(lines)
