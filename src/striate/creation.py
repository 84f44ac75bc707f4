"""Ways to make a tensor: from data, filled, or random (from the seeded generator)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import DEFAULT_DTYPE, is_array, to_device
from .random import resolve_generator
from .tensor import Tensor


def _shape(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(n) for n in size)


def _finish(array: Any, dtype: Any, device: str | None, requires_grad: bool) -> Tensor:
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, requires_grad=requires_grad)


def tensor(data: Any, dtype: Any = None, device: str | None = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Arrays keep their dtype; Python floats become float32 and Python ints int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data.data
    if is_array(data):
        array = data.copy()
    else:
        array = np.array(data)
        if array.dtype.kind == "f" and dtype is None:
            array = array.astype(DEFAULT_DTYPE)
        elif array.dtype.kind in "iu" and dtype is None:
            array = array.astype(np.int64)
    return _finish(array, dtype, device, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    return Tensor(array)


def zeros(*size: Any, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_shape(size), dtype or DEFAULT_DTYPE), None, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_shape(size), dtype or DEFAULT_DTYPE), None, device, requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    array = np.full(_shape((size,)), fill_value, dtype or DEFAULT_DTYPE)
    return _finish(array, None, device, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None) -> Tensor:
    return Tensor((t.data * 0).astype(dtype or t.dtype))


def ones_like(t: Tensor, dtype: Any = None) -> Tensor:
    return Tensor((t.data * 0 + 1).astype(dtype or t.dtype))


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: str | None = None) -> Tensor:
    array = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None and array.dtype.kind == "f":
        dtype = DEFAULT_DTYPE
    return _finish(array, dtype, device, False)


def randn(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples from ``generator`` (default: the one seeded by manual_seed)."""
    array = resolve_generator(generator).standard_normal(_shape(size))
    return _finish(array, dtype or DEFAULT_DTYPE, device, requires_grad)


def rand(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples on [0, 1)."""
    array = resolve_generator(generator).random(_shape(size))
    return _finish(array, dtype or DEFAULT_DTYPE, device, requires_grad)


def randint(low: int, high: int, size: tuple[int, ...], device: str | None = None,
            generator: np.random.Generator | None = None) -> Tensor:
    array = resolve_generator(generator).integers(low, high, size=size, dtype=np.int64)
    return _finish(array, None, device, False)
