"""Inverted dropout: random units are zeroed in training and the survivors scaled up, so the
layer is the identity at evaluation time."""

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
    by the caller and passed in, so the same draw serves forward and backward."""

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


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None):
    """Zero each element with probability p and scale the rest by 1/(1 − p) (training only).

    The identity when ``training`` is False or p = 0; all zeros when p = 1.  ``inplace`` is
    accepted for PyTorch compatibility and ignored.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    data = unwrap(input)
    if p == 1.0:
        mask = array_module(data).zeros_like(data)
    else:
        mask = dropout_mask(data.shape, float(p), data.dtype, device_of(data), generator)
    return Dropout.apply(input, mask)
