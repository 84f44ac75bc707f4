"""Inverted dropout: random units (``dropout``) or whole channels (``dropout2d``) are zeroed in
training and the survivors scaled up, so the layer is the identity at evaluation time."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module, device_of, to_device
from ..function import Context, Function
from ..random import resolve_generator
from ..tensor import unwrap


class Dropout(Function):
    """y = x ⊙ m,  ∂L/∂x = g ⊙ m,  with m = 1/(1 − p) where a unit is kept (probability 1 − p)
    and 0 where it is dropped; E[y] = x, so evaluation needs no rescaling.  The mask m is drawn
    by the caller and passed in, so the same draw serves forward and backward; it may have
    length-1 axes (one draw per channel for ``dropout2d``), broadcast in both products."""

    @staticmethod
    def forward(ctx: Context, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx: Context, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


def dropout_mask(shape: tuple[int, ...], p: float, dtype: Any, device: str,
                 generator: np.random.Generator | None = None):
    """The scaled keep-mask of inverted dropout, drawn on the host (so a seed gives the same mask
    on CPU and GPU) and moved to ``device``."""
    keep = resolve_generator(generator).random(shape, dtype=np.float32) >= p
    mask = keep.astype(dtype)
    mask *= 1.0 / (1.0 - p)
    return mask if device == "cpu" else to_device(mask, device)


def check_p(name: str, p: float) -> None:
    """The one check of a dropout probability, shared by the functions and the layers."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability p must lie in [0, 1], got {p}")


def _mask_like(data: Any, shape: tuple[int, ...], p: float,
               generator: np.random.Generator | None):
    """The scaled keep-mask of ``shape`` for ``data`` (all zeros when p = 1)."""
    if p == 1.0:
        return array_module(data).zeros(shape, dtype=data.dtype)
    return dropout_mask(shape, float(p), data.dtype, device_of(data), generator)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1 − p).

        y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p) independently   (training only)

    Dropping units at random keeps them from co-adapting: each must be useful with a random
    subset of the others, which acts like averaging an exponential number of thinned networks.
    Scaling by 1/(1 − p) in training keeps every unit's expected value, so evaluation is the
    identity.

    Args:
        input: a tensor of any shape.
        p: the probability of zeroing an element, in [0, 1]; p = 1 gives all zeros.
        training: drop only when True; otherwise (or with p = 0) the identity.
        inplace: accepted for PyTorch compatibility and ignored.
        generator: a NumPy generator for the mask (default: the global one, ``st.manual_seed``).

    Shape:
        Output as the input.

    Backward:
        The gradient passes where the element was kept, scaled the same way, and is zero where
        it was dropped: ∂L/∂x = g ⊙ m / (1 − p).

    References:
        Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014, "Dropout: a simple way
        to prevent neural networks from overfitting"; Goodfellow, Bengio & Courville, "Deep
        Learning" (2016), §7.12.
    """
    check_p("dropout", p)
    if not training or p == 0.0:
        return input
    data = unwrap(input)
    return Dropout.apply(input, _mask_like(data, data.shape, p, generator))


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: np.random.Generator | None = None):
    """Channel dropout: zero each whole feature map with probability p, scale the rest by 1/(1 − p).

        y[n, c] = x[n, c] · m[n, c] / (1 − p),   m[n, c] ~ Bernoulli(1 − p)   (training only)

    One mask value per (sample, channel), broadcast over the spatial axes. Neighbouring pixels
    of a feature map are strongly correlated, so dropping single pixels hardly regularises a
    convolutional layer; dropping whole maps does.

    Args:
        input: (N, C, H, W), or any input of 2 or more dims with the channels at dim 1 (a 3-D
            input is (N, C, L), as PyTorch reads it today).
        p: the probability of zeroing a channel, in [0, 1].
        training: drop only when True; otherwise (or with p = 0) the identity.
        inplace: accepted for PyTorch compatibility and ignored.
        generator: a NumPy generator for the mask (default: the global one).

    Shape:
        Output as the input.

    Backward:
        As for :func:`dropout`, with the channel's mask: ∂L/∂x[n, c] = g[n, c] · m[n, c] / (1 − p).

    References:
        Tompson, Goroshin, Jain, LeCun & Bregler 2015, "Efficient object localization using
        convolutional networks"; Srivastava et al. 2014, "Dropout: a simple way to prevent
        neural networks from overfitting".
    """
    check_p("dropout2d", p)
    if not training or p == 0.0:
        return input
    data = unwrap(input)
    if data.ndim < 2:
        raise ValueError(f"dropout2d: expected an input of shape (N, C, ...), got {data.shape}")
    shape = data.shape[:2] + (1,) * (data.ndim - 2)
    return Dropout.apply(input, _mask_like(data, shape, p, generator))
