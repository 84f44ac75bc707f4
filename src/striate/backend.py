"""The one place that knows NumPy from CuPy: array modules, devices, moves and dtypes.

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
