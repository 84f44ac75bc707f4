"""The SGD update of one parameter as a single compiled pass (the rule: ``optim/sgd.py``).

With NumPy a momentum step walks the parameter's arrays about ten times (the scaled buffer, the
sum, the scaled step, the subtraction and their temporaries), fourteen with weight decay, and a
model's optimiser step is bound by memory (figures: docs/performance.md).  This loop reads the
parameter, its gradient and its buffer once and writes the parameter and the buffer once.  It
does the NumPy expressions' arithmetic in the same order and precision, each scalar in the
arrays' dtype and no fused multiply-adds, so the two give the same bits.  Large parameters are
shared out over the worker threads; small ones keep to NumPy.
"""

from __future__ import annotations

from typing import Any

from . import jit
from .jit import compiled
from .layout import flat
from .parallel import map_chunks, pieces_for, split

PARALLEL_MIN_BYTES = 1 << 20  # the least a thread gets: a hand-off costs about 0.1 ms
# smaller parameters keep to NumPy: its passes over them cost less than this call's overhead
MIN_BYTES = 64 << 10


def _make_sgd(maximize: bool, decayed: bool, momentum_on: bool, first_step: bool,
              nesterov: bool, dampened: bool):
    """The update for one combination of options, each a compile-time constant so that the
    loop has no branch and vectorises."""

    @compiled(fastmath=False)  # no contraction into FMAs: the same roundings as NumPy's passes
    def sgd(p, grad, buf, lr, momentum, dampening, decay, start, stop):  # pragma: no cover
        """θ ← θ − γ·d over p[start:stop], with g = ±grad (+ λθ), b ← g on the first step,
        else b ← μb + (1 − τ)g, and d = g + μb (Nesterov) or b; without momentum d = g."""
        for i in range(start, stop):
            g = -grad[i] if maximize else grad[i]
            if decayed:
                g = g + decay * p[i]
            if momentum_on:
                if first_step:
                    b = g
                else:
                    b = buf[i] * momentum
                    b = b + (dampening * g if dampened else g)
                buf[i] = b
                g = g + momentum * b if nesterov else b
            p[i] = p[i] - lr * g

    return sgd


_kernels: dict[tuple[bool, ...], Any] = {}


def sgd_step_(p: Any, grad: Any, buf: Any, lr: float, momentum: float, dampening: float,
              decay: float, nesterov: bool, maximize: bool, first_step: bool) -> bool:
    """One SGD step of the array ``p`` in place (and of its momentum buffer ``buf``, which the
    first step fills); False, doing nothing, where the arrays do not serve: smaller than
    ``MIN_BYTES``, or not float32/64 NumPy arrays of one dense layout shared by all three."""
    if p.nbytes < MIN_BYTES:
        return False
    arrays = (p, grad) if buf is None else (p, grad, buf)
    if not jit.serves(*arrays) or any(a.dtype != p.dtype or a.shape != p.shape
                                      or a.strides != p.strides for a in arrays):
        return False
    flats = [flat(a) for a in arrays]
    if any(f is None for f in flats):
        return False
    dtype = p.dtype.type
    flat_p, flat_g = flats[:2]
    flat_b = flats[2] if buf is not None else flat_g  # unread without momentum
    options = (maximize, decay != 0, momentum != 0, first_step, nesterov,
               dtype(1 - dampening) != 1)
    if options not in _kernels:
        _kernels[options] = _make_sgd(*options)
    kernel = _kernels[options]
    scalars = (dtype(lr), dtype(momentum), dtype(1 - dampening), dtype(decay))
    pieces = pieces_for(flat_p.size, p.nbytes, PARALLEL_MIN_BYTES)
    map_chunks(lambda part: kernel(flat_p, flat_g, flat_b, *scalars, part.start, part.stop),
               split(flat_p.size, pieces), tiny=pieces <= 1)
    return True

