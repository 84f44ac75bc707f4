"""The convolution plan chosen by measurement (``st.backends.conv.benchmark = True``).

The rules of ``conv_plan.py`` were fitted to a few models' shapes; a measurement fits any shape.
As cuDNN's benchmark mode and oneDNN's primitive cache do, the first call with a new geometry
times every algorithm the settings allow, on random data of that geometry, and the plan cache
keeps the fastest for the process:

* the forward alone (inference runs nothing else);
* the input gradient: GEMM + col2im, the direct loops' adjoint, each way of the full
  correlation;
* the weight gradient: each algorithm, the forward's own with the buffer the forward keeps;
* both gradients in one pass (F(4×4, 3×3) on whole images) against the best two apart.

Each candidate runs once to warm up (compiling it, faulting its pages in), then the least of
:data:`REPEATS` timed runs counts (one, for a run longer than :data:`LONG_SECONDS`).
:func:`seconds_spent` says what the measuring has cost this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from . import conv
from .conv_geometry import Pads, Pair
from .conv_plan import ConvPlan, Pass, assemble, correlation_candidates, input_grad_candidates

REPEATS = 3  # timed runs of a candidate; the least counts
LONG_SECONDS = 0.05  # a run this long is timed once: the noise is small beside it

_spent = 0.0  # seconds this process has spent measuring
timings: dict[tuple, dict[str, dict[str, float]]] = {}  # geometry -> pass -> candidate -> s


def seconds_spent() -> float:
    """The wall time this process has spent timing candidates so far."""
    return _spent


def measured_plan(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads, dilation: Pair,
                  groups: int, out_hw: Pair, dtype: np.dtype) -> ConvPlan:
    """The plan whose every pass was the fastest of its candidates on this machine."""
    global _spent
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(weight_shape).astype(dtype)
    g = rng.standard_normal((n, o, *out_hw)).astype(dtype)
    geometry = (stride, pads, dilation, groups)
    shapes = (x_shape, weight_shape, out_hw, dtype)
    times: dict[str, dict[str, float]] = {"forward": {}, "input_grad": {}, "weight_grad": {}}

    def plan(forward: Pass, input_grad: Pass, weight_grad: Pass,
             together: bool | None = False) -> ConvPlan:
        return assemble(forward, input_grad, weight_grad, *shapes, together=together)

    def fastest(what: str, candidates: list[Pass], run: Callable[[Pass], object]) -> Pass:
        for candidate in candidates:
            times[what][repr(candidate)] = _seconds(lambda p=candidate: run(p))
        return min(candidates, key=lambda p: times[what][repr(p)])

    forwards = correlation_candidates(x_shape, weight_shape, (1, 1), pads, stride, dilation,
                                      groups, out_hw, dtype)
    forward = fastest("forward", forwards, lambda p: conv.correlate(
        x, weight, *geometry, plan=plan(p, p, p)))
    input_grad = fastest("input_grad", input_grad_candidates(
        x_shape, weight_shape, *geometry, out_hw, dtype), lambda p: conv.correlate_transpose(
            g, weight, *geometry, (h, w), plan=plan(forward, p, forward)))

    def weight_gradient(p: Pass, both: bool = False) -> object:
        candidate = plan(forward, input_grad, p, together=both or None)
        kept: list = []
        if candidate.keep is not None:  # the forward's buffer, as a training step has it
            conv.correlate(x, weight, *geometry, kept=kept, plan=candidate)
        buffer = kept[0] if kept else None
        if both:
            return conv.correlate_gradients(x, g, weight, *geometry, buffer, plan=candidate)
        return conv.correlate_weight(x, g, (kh, kw), *geometry, kept=buffer, plan=candidate)

    weight_grad = fastest("weight_grad", forwards, weight_gradient)
    best_apart = times["input_grad"][repr(input_grad)] + times["weight_grad"][repr(weight_grad)]
    together, chosen = False, weight_grad
    for p in forwards:
        if plan(forward, input_grad, p, together=None).together:
            both = _seconds(lambda p=p: weight_gradient(p, both=True))
            times.setdefault("together", {})[repr(p)] = both
            if both < best_apart:
                together, chosen, best_apart = True, p, both
    timings[(x_shape, weight_shape, *geometry, out_hw, dtype)] = times
    _spent += time.perf_counter() - start
    return plan(forward, input_grad, chosen, together=together)


def _seconds(run: Callable[[], object]) -> float:
    run()  # warm-up: compiles the kernel, faults the pages in
    best = _once(run)
    if best < LONG_SECONDS:
        best = min(best, *(_once(run) for _ in range(REPEATS - 1)))
    return best


def _once(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start
