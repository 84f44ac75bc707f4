"""The reference cycles that compiling a kernel leaves behind, collected when a step ends.

Numba's compiler leaves cycles of frames and tracebacks, and a frame holds its callers' frames
with their locals, so the arrays of the step during which a kernel compiled (a whole graph's
activations) would wait for Python's next full collection, and the next step would run with
both in memory (docs/performance.md, "At 224 px").  The engine calls :func:`collect`
after each backward and on leaving ``no_grad``; it costs a sum of counters, and a collection only
where something compiled.  ``kernels.jit.compiled`` lists each kernel here.
"""

import gc
from typing import Any

kernels: list[Any] = []  # Numba dispatchers; each one's .signatures grows as it compiles
_signatures_seen = 0


def collect() -> None:
    """Run Python's cycle collector if a kernel has compiled (or loaded from the disk cache)
    since the last call."""
    global _signatures_seen
    count = sum(len(kernel.signatures) for kernel in kernels)
    if count != _signatures_seen:
        _signatures_seen = count
        gc.collect()
