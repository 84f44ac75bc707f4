"""striate: a convolutional neural network library whose every layer has a hand-written backward.

    import striate as st
    x = st.tensor(array, requires_grad=True)
"""

import numpy as _np

from . import backends
from .backend import cupy_available
from .creation import (
    arange,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .kernels.parallel import get_num_threads, set_num_threads
from .ops.elementwise import clamp, exp, log, sqrt, where
from .ops.matmul import matmul
from .ops.reduce import amax, amin, mean, sum, var
from .ops.shape import cat, flatten, permute, reshape, stack, transpose
from .random import manual_seed
from .serialization import load, save
from .tensor import (
    Tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

float16 = _np.float16
float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64
bool_ = _np.bool_

__version__ = "0.1.0"

# Subpackages reachable as attributes, as PyTorch's are (``st.nn``, ``st.models``), imported on
# first use so that ``import striate`` stays as light as the engine.
_SUBPACKAGES = ("nn", "optim", "models", "data", "train", "viz", "interop")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBPACKAGES])

__all__ = [
    "Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like", "ones_like",
    "arange", "randn", "rand", "randint", "manual_seed", "set_num_threads", "get_num_threads",
    "no_grad", "enable_grad", "inference_mode",
    "is_grad_enabled", "set_grad_enabled", "cupy_available", "exp", "log", "sqrt", "clamp",
    "where", "matmul", "sum", "mean", "amax", "amin", "var", "cat", "stack", "flatten",
    "permute", "reshape", "transpose", "float16", "float32", "float64", "int32", "int64",
    "bool_", "backends", "save", "load",
]
