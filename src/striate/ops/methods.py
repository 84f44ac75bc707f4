"""Tensor's operators and methods, each a thin call into an op (so ``a + b``, ``x.sum()`` and
``x.to('cuda')`` build the graph like any other op).

Kept apart from ``tensor.py`` so the engine imports no op: ``ops/__init__.py`` imports this module,
which attaches every entry of :data:`METHODS` to :class:`~striate.tensor.Tensor`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import device_of
from ..tensor import Tensor, as_tensor_like
from . import elementwise as E
from . import reduce as R
from . import shape as S
from .activation import rectify, relu
from .matmul import matmul


def _binary(fn, reflected: bool = False):
    def method(self: Tensor, other: Any) -> Tensor:
        other = as_tensor_like(other, self)
        return fn.apply(other, self) if reflected else fn.apply(self, other)

    return method


def _compare(op: str):
    def method(self: Tensor, other: Any) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(getattr(self.data, op)(other))

    return method


def _pow(self: Tensor, p: Any) -> Tensor:
    if isinstance(p, Tensor):  # x ** t = exp(t · ln x)
        return E.exp(p * E.log(self))
    return E.Pow.apply(self, p)


def _rpow(self: Tensor, base: Any) -> Tensor:
    return E.exp(self * math.log(base))


def _argmax(self: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    out = self.data.argmax(axis=dim)
    if keepdim and dim is not None:
        out = out[(slice(None),) * (dim % self.ndim) + (None,)]
    return Tensor(out)


def _max(self: Tensor, dim: int | None = None, keepdim: bool = False):
    """``x.max()`` is a scalar; ``x.max(dim)`` returns ``(values, indices)`` as in PyTorch."""
    values = R.amax(self, dim, keepdim)
    return values if dim is None else (values, _argmax(self, dim, keepdim))


def _min(self: Tensor, dim: int | None = None, keepdim: bool = False):
    values = R.amin(self, dim, keepdim)
    return values if dim is None else (values, Tensor(self.data.argmin(axis=dim)))


def _view(self: Tensor, *shape: Any) -> Tensor:
    return S.reshape(self, *shape)


def _to(self: Tensor, target: Any = None, dtype: Any = None) -> Tensor:
    """``t.to('cuda')``, ``t.to(np.float64)``, ``t.to('cpu', np.float32)``: differentiable."""
    if target is not None and not isinstance(target, str) and dtype is None:
        try:
            dtype, target = np.dtype(target), None
        except TypeError:
            pass
    out = self
    if target is not None and device_of(self.data) != str(target).split(":")[0]:
        out = S.move(out, str(target))
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = S.astype(out, np.dtype(dtype))
    return out


METHODS = {
    "__add__": _binary(E.Add), "__radd__": _binary(E.Add, True),
    "__sub__": _binary(E.Sub), "__rsub__": _binary(E.Sub, True),
    "__mul__": _binary(E.Mul), "__rmul__": _binary(E.Mul, True),
    "__truediv__": _binary(E.Div), "__rtruediv__": _binary(E.Div, True),
    "__matmul__": lambda self, o: matmul(self, as_tensor_like(o, self)),
    "__rmatmul__": lambda self, o: matmul(as_tensor_like(o, self), self),
    "__neg__": lambda self: E.Neg.apply(self),
    "__pos__": lambda self: self,
    "__pow__": _pow, "__rpow__": _rpow,
    "__getitem__": S.index,
    "__eq__": _compare("__eq__"), "__ne__": _compare("__ne__"),
    "__lt__": _compare("__lt__"), "__le__": _compare("__le__"),
    "__gt__": _compare("__gt__"), "__ge__": _compare("__ge__"),
    "__abs__": rectify, "abs": rectify, "relu": relu,
    "exp": E.exp, "log": E.log, "sqrt": E.sqrt, "clamp": E.clamp, "clip": E.clamp,
    "sum": R.sum, "mean": R.mean, "var": R.var, "max": _max, "min": _min, "amax": R.amax,
    "amin": R.amin, "argmax": _argmax,
    "argmin": lambda self, dim=None: Tensor(self.data.argmin(axis=dim)),
    "reshape": S.reshape, "view": _view, "flatten": S.flatten, "permute": S.permute,
    "transpose": S.transpose, "unsqueeze": S.unsqueeze, "squeeze": S.squeeze,
    "matmul": matmul, "expand": S.expand,
    "clone": S.copy, "to": _to,
    "cpu": lambda self: _to(self, "cpu"), "cuda": lambda self: _to(self, "cuda"),
    "float": lambda self: _to(self, dtype=np.float32),
    "double": lambda self: _to(self, dtype=np.float64),
    "T": property(lambda self: S.permute(self, tuple(reversed(range(self.ndim))))),
}

for _name, _method in METHODS.items():
    setattr(Tensor, _name, _method)
