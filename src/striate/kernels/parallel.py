"""Both cores busy: independent pieces of a kernel's work run on a small pool of threads.

NumPy releases the GIL inside array copies and BLAS calls, so two threads, each copying its own
piece's windows and multiplying them with a single-threaded BLAS, keep two cores working through
the memory-bound im2col as well as the GEMM.  Letting OpenBLAS split each small chunk's GEMM over
its own threads instead was slower here, and far slower when anything else shares the cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_blas: Any = None


def num_workers() -> int:
    """Threads for chunk-parallel kernels: ``STRIATE_NUM_THREADS``, else the usable cores."""
    value = os.environ.get("STRIATE_NUM_THREADS")
    if value:
        return max(1, int(value))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _single_threaded_blas():
    """A context that keeps BLAS to one thread while the chunk threads run (if threadpoolctl is
    installed; otherwise BLAS keeps its own setting)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _blas = False
    return _blas.limit(limits=1, user_api="blas") if _blas else nullcontext()


def map_chunks(fn: Callable[[Any], T], parts: Sequence[Any], tiny: bool = False) -> list[T]:
    """``[fn(p) for p in parts]``, spread over the worker threads when there is more than one.

    BLAS is single-threaded inside, also when the parts run one after another: a convolution's
    GEMMs are too small for OpenBLAS's threads to pay for waking them.  ResNet-20 at batch 1
    trained at 41 images/s with two BLAS threads in its convolutions and 68 with one.  Only
    ``tiny`` work (one part, a product of a few hundred thousand multiply-adds) skips that
    switch, which itself costs about 12 µs: more than LeNet's whole layers take at batch 1."""
    global _pool
    workers = min(num_workers(), len(parts))
    if tiny and workers <= 1:
        return [fn(p) for p in parts]
    with _single_threaded_blas():
        if workers <= 1:
            return [fn(p) for p in parts]
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="striate-kernel")
        return list(_pool.map(fn, parts))
