"""The one place that knows NumPy from CuPy: array modules, devices, moves, dtypes and the RNG.

Every op asks ``xp = array_module(x)`` and then uses only what NumPy and CuPy both provide, so a
single code path serves the CPU and the GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # CuPy is optional: the GPU backend exists only where it is installed.
    import cupy as _cupy
except ImportError:  # pragma: no cover - depends on the machine
    _cupy = None

DEFAULT_DTYPE = np.dtype(np.float32)
ARRAY_TYPES = (np.ndarray,) if _cupy is None else (np.ndarray, _cupy.ndarray)
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def cupy_available() -> bool:
    """True when CuPy is importable and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover - driver problems
        return False


def array_module(*arrays: Any):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_array(a: Any) -> bool:
    """True for a NumPy or CuPy ndarray."""
    return isinstance(a, ARRAY_TYPES)


def device_of(a: Any) -> str:
    """``'cpu'`` or ``'cuda'`` for an array."""
    return "cuda" if array_module(a) is not np else "cpu"


def normalize_device(device: Any) -> str:
    """Map 'cpu', 'cuda', 'cuda:0', 'gpu' (or a torch-like device) to 'cpu' or 'cuda'."""
    name = str(device).lower().split(":")[0]
    if name == "gpu":
        name = "cuda"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    if name == "cuda" and not cupy_available():
        raise RuntimeError("device 'cuda' needs CuPy and an NVIDIA GPU; install cupy-cuda12x")
    return name


def to_device(a: Any, device: str) -> Any:
    """Move an array to ``device`` (a no-op when it is already there)."""
    device = normalize_device(device)
    if device == "cuda":
        return _cupy.asarray(a)
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def to_numpy(a: Any) -> np.ndarray:
    """A host (NumPy) copy or view of any array."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


# ---------------------------------------------------------------------------------------------
# Threads of the BLAS library behind NumPy.  OpenBLAS threads spin while they wait, so when the
# cores are also busy with other work (a data-loading thread, another process) two BLAS threads
# on two cores can run ten times slower than one: the trainer and the benchmarks set this.


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS (needs the ``threadpoolctl`` package)."""
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        raise RuntimeError("set_num_threads needs: pip install threadpoolctl") from None
    threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads() -> int:
    """Threads NumPy's BLAS uses (0 when it cannot be told).  Other BLAS libraries in the process
    (SciPy's, which Numba loads) do not count: striate's kernels call NumPy's."""
    from .kernels.parallel import numpy_blas

    try:
        return max((lib.num_threads for lib in numpy_blas()), default=0)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return 0


# ---------------------------------------------------------------------------------------------
# Random numbers: one global generator, reseeded by manual_seed; every module may take its own.
# Random draws are made on the host with NumPy and moved, so a seed gives the same numbers on
# the CPU and on the GPU.

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator that initialisers, dropout and loaders use by default."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator (reseeded by :func:`manual_seed`)."""
    return _generator


def resolve_generator(generator: np.random.Generator | None) -> np.random.Generator:
    """``generator`` if given, else the global one."""
    return _generator if generator is None else generator
