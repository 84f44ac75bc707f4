"""Linear (fully connected), Identity, Flatten, Dropout and Dropout2d layers, as PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import DEFAULT_DTYPE
from ..ops.dropout import check_p, dropout, dropout2d
from ..ops.linear import linear
from ..ops.shape import flatten
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x Wᵀ + b with ``weight`` (out_features, in_features) and ``bias`` (out_features,).

    Initialised as PyTorch: W ~ U(±1/√in_features) (kaiming_uniform_ with a = √5) and
    b ~ U(±1/√in_features), drawn from ``generator`` (default: the global one).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None,
                 generator: np.random.Generator | None = None):
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        self.in_features, self.out_features = in_features, out_features
        dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)
        if device is not None:
            self.to(device)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.default_(self.weight, self.bias, generator)

    def forward(self, input: Any) -> Any:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input; any constructor arguments are ignored, as PyTorch's."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Flatten(Module):
    """Merge dims ``start_dim``..``end_dim`` into one (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Any) -> Any:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout in training mode (``self.training``), the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: np.random.Generator | None = None):
        super().__init__()
        check_p(type(self).__name__, p)
        self.p, self.inplace, self.generator = p, inplace, generator

    def forward(self, input: Any) -> Any:
        return dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Channel dropout: each whole feature map of (N, C, H, W) is zeroed with probability p in
    training mode (the rest scaled by 1/(1 − p)); the identity in eval mode."""

    def forward(self, input: Any) -> Any:
        return dropout2d(input, self.p, self.training, generator=self.generator)
