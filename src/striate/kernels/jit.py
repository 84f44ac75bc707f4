"""Numba, where installed, compiles the loops that NumPy cannot express without strided passes
(Winograd's tile transforms, the direct correlation).  Without it those kernels are not used and
every convolution keeps to im2col."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import compile_cycles

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency
    njit = None


def available() -> bool:
    """True when Numba is installed."""
    return njit is not None


COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # Numba has no float16 arithmetic


def serves(*arrays: Any) -> bool:
    """True when the compiled kernels can take these arrays: Numba installed, and each a NumPy
    array (not CuPy) of float32 or float64 (float16 keeps to NumPy)."""
    if njit is None:
        return False
    for a in arrays:  # a loop, not all(...): asked several times per layer call
        if not (isinstance(a, np.ndarray) and a.dtype in COMPILED_DTYPES):
            return False
    return True


# fast-math's flags but "nnan" and "ninf": reassociation and contraction, for kernels whose
# results must keep NaN (a rectifier in an epilogue)
FAST_KEEPING_NAN = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def compiled(fn=None, *, fastmath: bool | frozenset = True):
    """``fn`` compiled without the GIL (so the chunk threads run it side by side) and cached on
    disk; ``fn`` itself without Numba.  ``fastmath`` lets reductions reassociate (so they
    vectorise) but also assumes no NaN: kernels that must propagate NaN turn it off, or ask for
    ``FAST_KEEPING_NAN``."""
    if fn is None:
        return lambda f: compiled(f, fastmath=fastmath)
    if njit is None:
        return fn
    flags = set(fastmath) if isinstance(fastmath, frozenset) else fastmath  # Numba wants a set
    kernel = njit(nogil=True, fastmath=flags, cache=True)(fn)
    compile_cycles.kernels.append(kernel)
    return kernel


def inlined(fn):
    """``fn`` compiled to be inlined into the compiled kernels that call it (so the constants of
    the caller reach its loops); ``fn`` itself without Numba."""
    if njit is None:  # pragma: no cover - numba is a dependency
        return fn
    return njit(inline="always", fastmath=True, nogil=True, cache=True)(fn)
