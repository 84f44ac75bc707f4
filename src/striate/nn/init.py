"""Weight initialisers (PyTorch's names and formulas), each drawing from an explicit generator.

fan_in = in_channels/groups · kh · kw for a conv weight (in_features for Linear), fan_out likewise
with out_channels.  The gain of a non-linearity scales the variance so that activations keep their
size through depth: √2 for ReLU (He et al. 2015), 1 for linear/sigmoid, 5/3 for tanh.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from ..backend import array_module, to_device
from ..random import resolve_generator
from ..tensor import Tensor, increment_version

Generator = np.random.Generator | None
T = TypeVar("T")
_skipping = threading.local()  # .active: inside skip_init, on this thread


def _skipped() -> bool:
    return getattr(_skipping, "active", False)


@contextlib.contextmanager
def _initialisers_skipped() -> Iterator[None]:
    previous = _skipped()
    _skipping.active = True
    try:
        yield
    finally:
        _skipping.active = previous


def skip_init(module_cls: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``module_cls(*args, **kwargs)`` with every initialiser of this module a no-op, as
    PyTorch's ``nn.utils.skip_init``: the parameters keep the uninitialised memory ``np.empty``
    gave them, which the operating system maps only when written.  For counting parameters or
    reading shapes without drawing the weights (VGG-16's 138 M in milliseconds instead of
    seconds); initialise the model before training it.  ``module_cls`` may be any callable
    that builds one, such as ``models.get_model``."""
    with _initialisers_skipped():
        return module_cls(*args, **kwargs)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` (out, in, *kernel), PyTorch's convention."""
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dims, got {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor | Any, values: np.ndarray) -> Any:
    """Write host values into the tensor's array in place (keeping dtype and device); a tensor's
    version goes up, as after PyTorch's initialisers."""
    array = tensor.data if isinstance(tensor, Tensor) else tensor
    xp = array_module(array)
    array[...] = to_device(values.astype(array.dtype, copy=False), "cpu" if xp is np else "cuda")
    if isinstance(tensor, Tensor):
        increment_version(tensor)
    return tensor


def _draw_dtype(tensor: Tensor | Any):
    """Draw float32 samples for float32 weights: half the work of drawing float64 and casting."""
    return np.float32 if tensor.dtype == np.float32 else np.float64


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator: Generator = None):
    if _skipped():
        return tensor
    r = resolve_generator(generator).random(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, a + (b - a) * r)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator: Generator = None):
    if _skipped():
        return tensor
    z = resolve_generator(generator).standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, mean + std * z)


def constant_(tensor, val: float):
    if _skipped():
        return tensor
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def _fan(shape: tuple[int, ...], mode: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Generator = None):
    """U(−b, b) with b = gain·√(3 / fan) (He et al. 2015)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor.shape, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Generator = None):
    """N(0, σ²) with σ = gain / √fan."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor.shape, mode))
    return normal_(tensor, 0.0, std, generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator: Generator = None):
    """U(−b, b) with b = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator: Generator = None):
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def lecun_uniform_(tensor, generator: Generator = None):
    """U(−b, b) with b = √(3 / fan_in) (LeCun et al. 1998): unit variance for unit inputs."""
    bound = math.sqrt(3.0 / _fan(tensor.shape, "fan_in"))
    return uniform_(tensor, -bound, bound, generator)


def lecun_normal_(tensor, generator: Generator = None):
    return normal_(tensor, 0.0, 1.0 / math.sqrt(_fan(tensor.shape, "fan_in")), generator)


def default_bias_(bias, weight_shape: tuple[int, ...], generator: Generator = None):
    """PyTorch's default bias of conv and linear layers: U(−1/√fan_in, 1/√fan_in)."""
    fan_in, _ = fan_in_and_fan_out(weight_shape)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(bias, -bound, bound, generator)


def default_weight_(weight, generator: Generator = None):
    """PyTorch's default conv/linear weight: kaiming_uniform_ with a = √5, i.e. U(±1/√fan_in)."""
    return kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)


def default_(weight, bias=None, generator: Generator = None) -> None:
    """PyTorch's default initialisation of a conv or linear layer's weight and bias."""
    default_weight_(weight, generator)
    if bias is not None:
        default_bias_(bias, weight.shape, generator)
