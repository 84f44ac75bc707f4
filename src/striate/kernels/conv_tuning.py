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

A large batch is timed on as many of its images as fit :data:`MEASURE_BYTES` (the choice is
then planned for the whole batch), so measuring never doubles a step's memory.  Each candidate
runs once to warm up (compiling it, faulting its pages in), then the least of
:data:`REPEATS` timed runs counts (one, for a run longer than :data:`LONG_SECONDS`).  The rules'
own choice is kept unless another is faster by more than :data:`MARGIN`: on a loaded machine
two timings a few per cent apart are noise, and the rules were measured too.
:func:`seconds_spent` says what the measuring has cost this process.

With ``st.backends.conv.benchmark_cache`` set to a file, each choice is also kept there under
the machine (processor and settings), the kernels' code (:func:`code_revision`: after an upgrade
the choices are measured again, and the old ones of this machine dropped) and the geometry, and
read back instead of measured: later processes measure nothing they have seen, and a resumed
run computes with the same algorithms, so its results equal an uninterrupted run's to the bit.
The file is a cache: one that cannot be read is measured over, one that cannot be written is
skipped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from . import conv, settings
from .conv_geometry import Pads, Pair
from .conv_plan import (
    SCHEME_NAMES,
    ConvPlan,
    Pass,
    assemble,
    correlation_candidates,
    input_grad_candidates,
    rules_plan,
)

REPEATS = 3  # timed runs of a candidate; the least counts
LONG_SECONDS = 0.05  # a run this long is timed once: the noise is small beside it
MARGIN = 0.10  # how much faster than the rules' choice a candidate must be to replace it
MEASURE_BYTES = 32 << 20  # input and output gradient timed at most: larger batches time a slice

_spent = 0.0  # seconds this process has spent measuring
timings: dict[tuple, dict[str, dict[str, float]]] = {}  # geometry -> pass -> candidate -> s


def seconds_spent() -> float:
    """The wall time this process has spent timing candidates so far."""
    return _spent


def measured_plan(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads, dilation: Pair,
                  groups: int, out_hw: Pair, dtype: np.dtype) -> ConvPlan:
    """The plan whose every pass was the fastest of its candidates on this machine."""
    global _spent
    geometry = (stride, pads, dilation, groups)
    shapes = (x_shape, weight_shape, out_hw, dtype)
    forwards = correlation_candidates(x_shape, weight_shape, (1, 1), pads, stride, dilation,
                                      groups, out_hw, dtype)
    inputs = input_grad_candidates(x_shape, weight_shape, *geometry, out_hw, dtype)

    def plan_of(entry: object) -> ConvPlan | None:
        return _plan_of(entry, forwards, inputs, shapes)

    key = json.dumps([_machine(), code_revision(), *settings.state, x_shape, weight_shape,
                      *geometry, out_hw, dtype.str])
    remembered = plan_of(_read_cache().get(key))
    if remembered is not None:
        return remembered
    start = time.perf_counter()
    n, c, h, w = x_shape
    per_image = (c * h * w + weight_shape[0] * out_hw[0] * out_hw[1]) * dtype.itemsize
    timed = max(1, min(n, MEASURE_BYTES // max(1, per_image)))
    choice = _measure((timed, c, h, w), weight_shape, geometry, out_hw, dtype)
    _spent += time.perf_counter() - start
    # another process may have stored its choice first: take it, as every later process will
    return _remember(key, choice, plan_of) or plan_of(choice)


def _measure(x_shape: tuple, weight_shape: tuple, geometry: tuple, out_hw: Pair,
             dtype: np.dtype) -> dict:
    """Time every candidate of each pass on random data of this geometry; the names chosen."""
    stride, pads, dilation, groups = geometry
    shapes = (x_shape, weight_shape, out_hw, dtype)
    forwards = correlation_candidates(x_shape, weight_shape, (1, 1), pads, stride, dilation,
                                      groups, out_hw, dtype)
    inputs = input_grad_candidates(x_shape, weight_shape, *geometry, out_hw, dtype)
    rng = np.random.default_rng(0)
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(weight_shape).astype(dtype)
    g = rng.standard_normal((n, o, *out_hw)).astype(dtype)
    times: dict[str, dict[str, float]] = {"forward": {}, "input_grad": {}, "weight_grad": {}}
    rules = rules_plan(x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype)

    def plan(forward: Pass, input_grad: Pass, weight_grad: Pass,
             together: bool | None = False) -> ConvPlan:
        return assemble(forward, input_grad, weight_grad, *shapes, together=together)

    def fastest(what: str, candidates: list[Pass], run: Callable[[Pass], object]) -> Pass:
        for candidate in candidates:
            times[what][repr(candidate)] = _seconds(lambda p=candidate: run(p))
        best = min(candidates, key=lambda p: times[what][repr(p)])
        ruled = getattr(rules, what)
        close = ruled in candidates and times[what][repr(ruled)] <= (1 + MARGIN) * times[what][
            repr(best)]
        return ruled if close else best

    forward = fastest("forward", forwards, lambda p: conv.correlate(
        x, weight, *geometry, plan=plan(p, p, p)))
    input_grad = fastest("input_grad", inputs, lambda p: conv.correlate_transpose(
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
            margin = 1 + MARGIN if rules.together else 1 / (1 + MARGIN)
            if both < best_apart * margin:
                together, chosen, best_apart = True, p, both
    timings[(x_shape, weight_shape, *geometry, out_hw, dtype)] = times
    return {"forward": _name(forward), "input_grad": _name(input_grad),
            "weight_grad": _name(chosen), "together": together}


def _name(p: Pass) -> str:
    return p.algorithm + (f" {SCHEME_NAMES[p.scheme]}" if p.scheme is not None else "")


def _machine() -> str:
    from ..bench.machine import cpu_description  # the processor, as benchmarks print it

    return cpu_description()


@functools.cache
def code_revision() -> str:
    """A digest of the kernels' source: a choice measured with other kernels (an older or newer
    striate) is not this code's choice, so it is measured again rather than read."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _stale(key: str) -> bool:
    """True for an entry of this machine measured with other kernels."""
    with contextlib.suppress(ValueError, TypeError, IndexError):
        machine, revision = json.loads(key)[:2]
        return machine == _machine() and revision != code_revision()
    return False


def _read_cache() -> dict:
    path = settings.conv.benchmark_cache
    if path is None:
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or corrupt: measure again
        return {}
    return entries if isinstance(entries, dict) else {}


def _plan_of(entry: object, forwards: list[Pass], inputs: list[Pass],
             shapes: tuple) -> ConvPlan | None:
    """The plan a cache entry names, if it is one and every pass it names is a candidate."""
    if not isinstance(entry, dict):
        return None
    by_name = {what: {_name(p): p for p in candidates}
               for what, candidates in (("forward", forwards), ("input_grad", inputs),
                                        ("weight_grad", forwards))}
    try:
        passes = [by_name[what][entry[what]] for what in ("forward", "input_grad", "weight_grad")]
    except (KeyError, TypeError):
        return None
    return assemble(*passes, *shapes, together=entry.get("together") is True)


def _remember(key: str, choice: dict,
              plan_of: Callable[[object], ConvPlan | None]) -> ConvPlan | None:
    """Store ``choice`` under ``key`` unless the file already holds a valid choice there (the
    first one stored stays, so runs resumed from it agree); the stored entry's plan."""
    path = settings.conv.benchmark_cache
    if path is None:
        return None
    entries = _read_cache()
    if plan_of(entries.get(key)) is None:
        entries = {k: v for k, v in entries.items() if not _stale(k)}
        entries[key] = choice
        with contextlib.suppress(OSError):  # a cache that cannot be written is only a cache
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "w", fsync=False) as f:
                json.dump(entries, f, ensure_ascii=False, indent=0)
    return plan_of(entries[key])


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
