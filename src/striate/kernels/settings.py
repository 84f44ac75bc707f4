"""The settings the kernels read: which convolution algorithms a plan may choose, and how many
worker threads share a kernel's chunks.  ``striate.backends`` is their public face.

The environment gives the start-up values, read once when this module is imported:
``STRIATE_WINOGRAD`` (0: no Winograd; 2: F(2×2, 3×3) only), ``STRIATE_DIRECT`` (0: no direct
loops) and ``STRIATE_NUM_THREADS`` (worker threads; default: the usable cores).  After that only
code changes them (``st.backends.conv.winograd = False``, ``with st.backends.flags(...)``).

:data:`state` is every setting in one tuple, replaced on each change: the convolution plans are
cached under it, so a change of setting takes effect on the next call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@functools.cache
def usable_cores() -> int:
    """The cores this process may run on (as it started: an affinity changed later is not seen)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _flag(name: str, off: str) -> bool:
    return os.environ.get(name, "1") != off


class ConvSettings:
    """``st.backends.conv``: the algorithms a convolution plan may choose.

    * ``winograd``: Winograd's F(m×m, 3×3) for 3×3 stride-1 layers (else im2col);
    * ``winograd_f4``: F(4×4, 3×3) where it pays (False keeps every Winograd layer on
      F(2×2, 3×3), whose rounding error is about twenty times smaller in float32);
    * ``direct``: the direct compiled loops for stride-1 layers with few channels;
    * ``benchmark``: choose by measurement instead of the rules: the first call with a new
      geometry times every allowed algorithm for each pass and keeps the fastest for the
      process (``conv_tuning.py``; off by default, as in cuDNN, since it costs time once);
    * ``benchmark_cache``: a JSON file (a path, or None: the process only) where measured
      choices are kept per machine, so later processes, and a resumed run, take the same ones
      without measuring again.

    Each is a bool; ``striate.backends.flags`` sets them for a block."""

    __slots__ = ("_winograd", "_winograd_f4", "_direct", "_benchmark", "_benchmark_cache")

    def __init__(self) -> None:
        self._winograd = _flag("STRIATE_WINOGRAD", "0")
        self._winograd_f4 = _flag("STRIATE_WINOGRAD", "2")
        self._direct = _flag("STRIATE_DIRECT", "0")
        self._benchmark = False
        self._benchmark_cache: Path | None = None

    def _set(self, name: str, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"backends.conv.{name} must be True or False, got {value!r}")
        object.__setattr__(self, f"_{name}", value)
        _update()

    winograd = property(lambda self: self._winograd,
                        lambda self, value: self._set("winograd", value))
    winograd_f4 = property(lambda self: self._winograd_f4,
                           lambda self, value: self._set("winograd_f4", value))
    direct = property(lambda self: self._direct, lambda self, value: self._set("direct", value))
    benchmark = property(lambda self: self._benchmark,
                         lambda self, value: self._set("benchmark", value))

    @property
    def benchmark_cache(self) -> Path | None:
        return self._benchmark_cache

    @benchmark_cache.setter
    def benchmark_cache(self, value: str | os.PathLike | None) -> None:
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"backends.conv.benchmark_cache must be a path or None, got {value!r}")
        self._benchmark_cache = None if value is None else Path(value)

    def __repr__(self) -> str:
        return (f"ConvSettings(winograd={self.winograd}, winograd_f4={self.winograd_f4}, "
                f"direct={self.direct}, benchmark={self.benchmark}, "
                f"benchmark_cache={self.benchmark_cache})")


class CpuSettings:
    """``st.backends.cpu``: ``num_threads``, the worker threads that share a kernel's chunks
    (a convolution's, a large product's, a batch norm's); NumPy's own BLAS stays one thread
    inside them."""

    __slots__ = ("_num_threads",)

    def __init__(self) -> None:
        value = os.environ.get("STRIATE_NUM_THREADS")
        self._num_threads = max(1, int(value)) if value else usable_cores()

    @property
    def num_threads(self) -> int:
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"backends.cpu.num_threads must be a positive int, got {value!r}")
        self._num_threads = value
        _update()

    def __repr__(self) -> str:
        return f"CpuSettings(num_threads={self.num_threads})"


conv = ConvSettings()
cpu = CpuSettings()
state: tuple = ()


def _update() -> None:
    global state
    state = (conv.winograd, conv.winograd_f4, conv.direct, conv.benchmark, cpu.num_threads)


_update()


@contextmanager
def flags(*, winograd: bool | None = None, winograd_f4: bool | None = None,
          direct: bool | None = None, benchmark: bool | None = None,
          benchmark_cache: str | os.PathLike | None = None,
          num_threads: int | None = None) -> Iterator[None]:
    """Within the block, the given settings (None: unchanged); all restored after."""
    before, cache_before = state, conv.benchmark_cache
    try:
        if benchmark_cache is not None:
            conv.benchmark_cache = benchmark_cache
        for target, name, value in ((conv, "winograd", winograd),
                                    (conv, "winograd_f4", winograd_f4),
                                    (conv, "direct", direct), (conv, "benchmark", benchmark),
                                    (cpu, "num_threads", num_threads)):
            if value is not None:
                setattr(target, name, value)
        yield
    finally:
        (conv.winograd, conv.winograd_f4, conv.direct, conv.benchmark, cpu.num_threads) = before
        conv.benchmark_cache = cache_before
