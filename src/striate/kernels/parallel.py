"""Both cores busy: independent chunks of a kernel's work run on a small pool of threads.

NumPy releases the GIL inside array copies and BLAS calls, so two threads, each copying its own
chunk's windows and multiplying them with a single-threaded BLAS, keep two cores working through
the memory-bound im2col as well as the GEMM.  Letting OpenBLAS split each small chunk's GEMM over
its own threads instead was slower, and far slower when anything else shares the cores, so
:func:`map_chunks` holds NumPy's BLAS to one thread while its chunks run and restores the
caller's setting after (a scoped limit: importing striate changes nothing).  Large products
outside the convolutions (fully connected layers) are split over the worker threads
(:func:`matmul`).  The worker count is ``striate.backends.cpu.num_threads``.

:func:`set_num_threads` and :func:`get_num_threads` (``st.set_num_threads``) set and read NumPy's
BLAS threads for the caller's own products; ``striate.backends.tune_process`` sets one thread for
the whole process, as the command line does (why: docs/convolution-plan.md, "Threads").
"""

from __future__ import annotations

import contextvars
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

from . import settings
from .settings import usable_cores  # noqa: F401 - part of this module's interface

T = TypeVar("T")

_helpers: list[queue.SimpleQueue] = []  # each helper thread's inbox of work
_in_helper = threading.local()  # .active: this thread is a helper (its parts run serially)
_blas: list | None = None  # threadpoolctl's controllers of the BLAS the kernels call
_pinned = False  # NumPy's BLAS set to one thread for good (tune_process), so nothing to switch


def _forget_helpers() -> None:
    """In a forked child the helper threads do not exist: start new ones when needed."""
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)


def num_workers() -> int:
    """Threads for chunk-parallel kernels: ``striate.backends.cpu.num_threads``."""
    return settings.cpu.num_threads


def _single_threaded_blas():
    """A context that keeps NumPy's BLAS to one thread within it (if threadpoolctl is
    installed; otherwise BLAS keeps its own setting).  Nothing to do once
    :func:`keep_numpy_blas_single_threaded` pinned it; else, where it has one thread already,
    asking for the count replaces switching it, which costs several times more (as does
    threadpoolctl's own limiter, which sets every BLAS loaded)."""
    global _blas
    if _pinned:
        return nullcontext()
    if _blas is None:
        try:
            # NumPy's BLAS (the kernels' products), or every BLAS where it is not recognisable
            _blas = numpy_blas() or _all_blas()
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _blas = []
    busy = [lib for lib in _blas if lib.num_threads != 1]
    return _one_thread(busy) if busy else nullcontext()


@contextmanager
def _one_thread(libraries: list) -> Iterator[None]:
    """One thread in each of threadpoolctl's ``libraries`` within the block, then their counts
    as before."""
    before = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, count in zip(libraries, before, strict=True):
            lib.set_num_threads(count)


def _all_blas() -> list:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas").lib_controllers


def numpy_blas():
    """threadpoolctl's controllers of the BLAS libraries that NumPy loaded (not, say, PyTorch's)."""
    return [lib for lib in _all_blas() if "numpy" in lib.filepath]


def keep_numpy_blas_single_threaded() -> None:
    """Set NumPy's BLAS to one thread for the whole process (``striate.backends.tune_process``
    calls it; :func:`set_num_threads` and ``--threads`` change it again)."""
    global _pinned
    try:
        libraries = numpy_blas()
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return
    for lib in libraries:
        lib.set_num_threads(1)
    _pinned = bool(libraries)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS (needs the ``threadpoolctl`` package)."""
    global _pinned
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        raise RuntimeError("set_num_threads needs: pip install threadpoolctl") from None
    _pinned = False
    threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads() -> int:
    """Threads NumPy's BLAS uses (0 when it cannot be told).  Other BLAS libraries in the process
    (SciPy's, which Numba loads) do not count: striate's kernels call NumPy's."""
    try:
        return max((lib.num_threads for lib in numpy_blas()), default=0)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return 0


PARALLEL_MIN_MACS = 1 << 22  # a product smaller than this runs whole on one thread


def matmul(a: Any, b: Any) -> Any:
    """a @ b for 2-D NumPy arrays, split over the worker threads when the product has at least
    ``PARALLEL_MIN_MACS`` multiply-adds per chunk (BLAS single-threaded in each); the plain
    product otherwise (and on the GPU).

    The split cuts the larger operand, so each thread reads its share of it and all of the
    smaller one: the rows of a when a is the larger, else the columns of b.  A fully connected
    layer at a small batch is a few rows of a against a large weight, whose reading is the cost;
    cut by rows, every thread would read all of it.  Where that larger b is the transposed view
    of a C-contiguous weight (x Wᵀ), the product is taken as (W xᵀ)ᵀ, the result a transposed
    view: OpenBLAS runs x Wᵀ markedly slower than W xᵀ at a small batch (docs/performance.md)."""
    rows, cols = a.shape[0], b.shape[1]
    by_rows = a.size >= b.size
    if not by_rows and isinstance(b, np.ndarray) and _transposed(b):
        return matmul(b.T, a.T).T
    parts = rows if by_rows else cols
    count = min(parts, a.shape[0] * a.shape[1] * b.shape[1] // PARALLEL_MIN_MACS)
    if count > 1:  # (the thread count is read only for products that could use it)
        count = min(count, num_workers())
    if count <= 1 or not isinstance(a, np.ndarray):
        with _single_threaded_blas():  # else OpenBLAS wakes threads that then spin
            return a @ b
    out = np.empty((rows, cols), dtype=np.result_type(a, b))
    if by_rows:
        map_chunks(lambda part: np.matmul(a[part], b, out=out[part]), split(rows, count))
    else:
        map_chunks(lambda part: np.matmul(a, b[:, part], out=out[:, part]), split(cols, count))
    return out


def _transposed(b: Any) -> bool:
    """True for the transposed view of a C-contiguous matrix (a linear layer's Wᵀ)."""
    return b.ndim == 2 and b.T.flags.c_contiguous and not b.flags.c_contiguous


def split(count: int, pieces: int) -> list[slice]:
    """``range(count)`` as ``pieces`` adjacent slices whose sizes differ by one at most."""
    bounds = [count * i // pieces for i in range(pieces + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def pieces_for(count: int, nbytes: int, min_bytes: int) -> int:
    """How many threads a memory-bound pass over ``nbytes`` in ``count`` independent parts
    should be split over: one per worker where each gets at least ``min_bytes``, else one (a
    hand-off costs more than a small pass)."""
    if nbytes < 2 * min_bytes:
        return 1
    return max(1, min(num_workers(), count, nbytes // min_bytes))


def map_chunks(fn: Callable[[Any], T], parts: Sequence[Any], tiny: bool = False) -> list[T]:
    """``[fn(p) for p in parts]``, spread over the worker threads when there is more than one.

    BLAS is single-threaded inside, also when the parts run one after another: a convolution's
    GEMMs are too small for OpenBLAS's threads to pay for waking them.  Only ``tiny`` work (one
    part, a product of a few hundred thousand multiply-adds) skips that switch, which can cost
    more than such a part (docs/convolution-plan.md, "Threads")."""
    workers = min(num_workers(), len(parts)) if len(parts) > 1 else 1
    if getattr(_in_helper, "active", False):  # a part's own parts: its helpers may be busy
        workers = 1
    if tiny and workers <= 1:
        return [fn(p) for p in parts]
    with _single_threaded_blas():
        if workers <= 1:
            return [fn(p) for p in parts]
        return _share(fn, parts, workers)


def sum_chunks(fn: Callable[[Any], Any], parts: Sequence[Any], tiny: bool = False) -> Any:
    """``sum(map_chunks(fn, parts, tiny))``, the same bits, but each result added to the total
    as soon as those before it are, so that about one result per worker is alive at a time
    instead of one per part: a weight gradient summed over 56 chunks of images would hold 56
    weight-sized arrays at once.  ``fn`` must return a new array (the total adds into the
    first)."""
    total = _OrderedTotal()
    map_chunks(lambda i: total.add(i, fn(parts[i])), range(len(parts)), tiny)
    return total.value


class _OrderedTotal:
    """r₀ + r₁ + … in index order, whatever order the rᵢ arrive in (so the rounding does not
    depend on which thread finished first)."""

    def __init__(self) -> None:
        self.value: Any = 0
        self._waiting: dict[int, Any] = {}
        self._next = 0
        self._lock = threading.Lock()

    def add(self, index: int, result: Any) -> None:
        with self._lock:
            self._waiting[index] = result
            while self._next in self._waiting:
                term = self._waiting.pop(self._next)
                if self._next == 0:
                    self.value = term  # the total starts as the first result, not a copy
                else:
                    self.value += term
                self._next += 1


def _share(fn: Callable[[Any], T], parts: Sequence[Any], workers: int) -> list[T]:
    """Run the parts on ``workers`` threads, the calling one included, each taking the next part
    not yet taken.  One hand-off per helper thread rather than one per part: ResNet-20's 16→16
    layer makes 32 parts a call, and each hand-off costs a wake-up and a pass of the GIL between
    threads.  The hand-off is a put on the helper's own queue and a put back on this call's
    (about 15 µs here; a ``ThreadPoolExecutor``'s futures took 60).  The helpers run in copies
    of the caller's context, so its settings held in context variables (NumPy's ``errstate``)
    hold for every part."""
    results: list[Any] = [None] * len(parts)
    taken = itertools.count()  # next() on it is atomic under the GIL

    def drain() -> None:
        for i in taken:
            if i >= len(parts):
                return
            results[i] = fn(parts[i])

    while len(_helpers) < workers - 1:
        _start_helper()
    finished: queue.SimpleQueue = queue.SimpleQueue()
    for inbox in _helpers[:workers - 1]:
        inbox.put((contextvars.copy_context(), drain, finished))
    try:
        drain()
    finally:  # wait for every part, and re-raise a helper's error
        errors = [finished.get() for _ in range(workers - 1)]
    for error in errors:
        if error is not None:
            raise error
    return results


def _start_helper() -> None:
    """One more helper thread, waiting on its inbox for (context, drain, finished): it runs
    drain in the context and puts None, or the error drain raised, on ``finished``.  A daemon:
    it holds no state that exiting could lose."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def serve() -> None:
        _in_helper.active = True
        while True:
            context, drain, finished = inbox.get()
            try:
                context.run(drain)
            except BaseException as error:  # noqa: BLE001 - handed to the caller, who raises it
                finished.put(error)
            else:
                finished.put(None)

    threading.Thread(target=serve, name=f"striate-kernel-{len(_helpers)}", daemon=True).start()
    _helpers.append(inbox)
