"""Activation layers: one Module per non-linearity in ``ops/activation.py``, with PyTorch's
constructor arguments and ``extra_repr``; ``Gain`` holds a learned per-channel weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import DEFAULT_DTYPE
from ..ops import activation as A
from . import init
from .module import Module, Parameter


def _inplace(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class ReLU(Module):
    """y = max(x, 0) (``F.relu``).  ``inplace`` is accepted and ignored (every op here returns a
    new array).

    Shape:
        any; the output has the input's shape.

    Backward:
        g where x > 0, 0 elsewhere (the subgradient 0 at x = 0, as PyTorch).

    References:
        Nair & Hinton 2010, "Rectified linear units improve restricted Boltzmann machines";
        Glorot, Bordes & Bengio 2011, "Deep sparse rectifier neural networks".
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return A.relu(input)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)[2:]


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope·x otherwise (``F.leaky_relu``).

    Shape:
        any; the output has the input's shape.

    Backward:
        g for x > 0, negative_slope·g otherwise.

    References:
        Maas, Hannun & Ng 2013.
    """
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Any) -> Any:
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace(self.inplace)}"


class ELU(Module):
    """y = x for x > 0, α·(eˣ − 1) otherwise (``F.elu``).

    Shape:
        any; the output has the input's shape.

    Backward:
        g for x > 0, g·(y + α) otherwise.

    References:
        Clevert, Unterthiner & Hochreiter 2016.
    """
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Any) -> Any:
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class Sigmoid(Module):
    """y = σ(x) = 1 / (1 + e^(−x)) (``F.sigmoid``).

    Shape:
        any; the output has the input's shape.

    Backward:
        g · y · (1 − y).

    References:
        LeCun et al. 1998.
    """
    def forward(self, input: Any) -> Any:
        return A.sigmoid(input)


class Tanh(Module):
    """y = tanh x (``F.tanh``).

    Shape:
        any; the output has the input's shape.

    Backward:
        g · (1 − y²).

    References:
        LeCun et al. 1998; Jarrett et al. 2009.
    """
    def forward(self, input: Any) -> Any:
        return A.tanh(input)


class Softplus(Module):
    """y = 1/β · ln(1 + e^{βx}), and y = x where βx > ``threshold`` (``F.softplus``); β sets how
    sharp the bend at 0 is.

    Shape:
        any; the output has the input's shape.

    Backward:
        g · σ(βx), the logistic function (g where βx > ``threshold``).

    References:
        Dugas, Bengio, Bélisle, Nadeau & Garcia 2001, "Incorporating second-order functional
        knowledge for better option pricing".
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Any) -> Any:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ) along ``dim`` (``F.softmax``); shape kept.

    Backward: ∂L/∂x = y · (g − Σⱼ gⱼ yⱼ).
    """
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return A.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """yᵢ = xᵢ − ln Σⱼ e^(xⱼ) along ``dim`` (``F.log_softmax``); shape kept.

    Backward: ∂L/∂x = g − softmax(x) · Σⱼ gⱼ.
    """
    def forward(self, input: Any) -> Any:
        return A.log_softmax(input, self.dim)


class Rectify(Module):
    """y = |x|: the absolute-value rectification R_abs of Jarrett et al. (``F.rectify``), which
    keeps a feature's strength whatever its polarity.

    Shape:
        any; the output has the input's shape.

    Backward:
        g · sign(x) (0 at x = 0).

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage architecture
        for object recognition?".
    """

    def forward(self, input: Any) -> Any:
        return A.rectify(input)


class SmoothAbs(Module):
    """y = 2/k · ln(1 + e^{kx}) − x − 2/k · ln 2 (``F.smooth_abs``): a smooth |x|, 0 at 0 and
    approaching |x| − 2/k · ln 2 as |x| grows; k sets how sharp the bend is.

    Shape:
        any; the output has the input's shape.

    Backward:
        g · (2σ(kx) − 1) = g · tanh(kx / 2), σ the logistic function.

    References:
        Jarrett et al. 2009 (the rectification it smooths); Mendez-Vazquez, "Introduction to
        the Convolutional Network" (lecture notes, 2021).
    """

    def __init__(self, k: float = 1.0):
        super().__init__()
        if not k > 0:
            raise ValueError(f"SmoothAbs: k must be > 0, got {k}")
        self.k = k

    def forward(self, input: Any) -> Any:
        return A.smooth_abs(input, self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class Gain(Module):
    """y[:, i] = gᵢ · x[:, i] for each channel i of (N, C, ...) (``F.gain``): the learned
    per-map gain of Jarrett et al.'s tanh stage; ``weight`` (C,) starts at ones.

    Shape:
        input (N, C, ...); the output has the input's shape.

    Backward:
        ∂L/∂x = g · gᵢ per channel; ∂L/∂gᵢ = Σ of g · x over every element of channel i.

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage architecture
        for object recognition?".
    """

    def __init__(self, num_channels: int, dtype: Any = None):
        super().__init__()
        if isinstance(num_channels, bool) or not isinstance(num_channels, int) \
                or num_channels < 1:
            raise ValueError(f"Gain: num_channels must be a positive int, got {num_channels!r}")
        self.num_channels = num_channels
        dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        self.weight = Parameter(np.empty(num_channels, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.ones_(self.weight)

    def forward(self, input: Any) -> Any:
        return A.gain(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_channels={self.num_channels}"
