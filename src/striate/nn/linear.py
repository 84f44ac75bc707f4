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
    """Fully connected layer: y = x Wᵀ + b (``F.linear``).

    Every output unit is a weighted sum of all inputs plus a bias; the classifier head of a CNN
    after its feature maps are flattened.

    Args:
        in_features: the size of each input vector.
        out_features: the size of each output vector.
        bias: learn the bias b.
        device: where the parameters live ('cpu', or 'cuda' with CuPy).
        dtype: the parameters' dtype.
        generator: a NumPy generator for the initial weights (default: the global one).

    Attributes:
        weight: (out_features, in_features), drawn from U(±1/√in_features) (PyTorch's default,
            kaiming_uniform_ with a = √5).
        bias: (out_features,), drawn from U(±1/√in_features), or None.

    Shape:
        Input (*, in_features); output (*, out_features).

    Backward:
        ∂L/∂x = g W, ∂L/∂W = gᵀ x and ∂L/∂b = Σ g, summed over the leading dims.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 6;
        Rosenblatt 1958, "The perceptron: a probabilistic model for information storage and
        organization in the brain".
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
    """Merge the dims ``start_dim``..``end_dim`` into one (``F.flatten``), by default all but N.

        (N, C, H, W) → (N, C·H·W)

    Args:
        start_dim: the first dim merged.
        end_dim: the last dim merged.

    Shape:
        Input (N, *); output (N, ∏ *) with the defaults.

    Backward:
        The gradient is reshaped back to the input's shape.

    References:
        LeCun et al. 1998, "Gradient-based learning applied to document recognition";
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 9.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Any) -> Any:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout (``F.dropout``) in training mode, the identity in evaluation mode.

        y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p)

    Args:
        p: the probability of zeroing an element, in [0, 1].
        inplace: accepted for PyTorch compatibility and ignored.
        generator: a NumPy generator for the masks (default: the global one).

    Shape:
        Output as the input, any shape.

    Backward:
        The gradient passes where the element was kept, scaled by 1/(1 − p), and is zero where
        it was dropped.

    References:
        Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014, "Dropout: a simple way
        to prevent neural networks from overfitting";
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §7.12.
    """

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
    """Channel dropout (``F.dropout2d``): whole feature maps zeroed in training mode.

        y[n, c] = x[n, c] · m[n, c] / (1 − p),   m[n, c] ~ Bernoulli(1 − p)

    The identity in evaluation mode. Neighbouring pixels are strongly correlated, so dropping
    whole maps regularises a convolutional layer where dropping single pixels hardly does.

    Args:
        p: the probability of zeroing a channel, in [0, 1].
        inplace: accepted for PyTorch compatibility and ignored.
        generator: a NumPy generator for the masks (default: the global one).

    Shape:
        Input (N, C, H, W) (channels at dim 1); output the same.

    Backward:
        The gradient passes through the kept channels, scaled by 1/(1 − p); dropped channels
        get zero.

    References:
        Tompson, Goroshin, Jain, LeCun & Bregler 2015, "Efficient object localization using
        convolutional networks".
    """

    def forward(self, input: Any) -> Any:
        return dropout2d(input, self.p, self.training, generator=self.generator)
