"""Point-wise non-linearities, Jarrett's rectifiers, the learned gain, and softmax.

A non-linearity layer keeps the number and size of the feature maps: Yᵢ⁽ˡ⁾ = f(Yᵢ⁽ˡ⁻¹⁾), so its
backward is the chain rule element by element, ∂L/∂x = g · f'(x).  Every op saves the cheapest
thing its derivative needs (a mask, the output, or the input).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..kernels import pointwise
from . import checks

# --- numerically stable building blocks (shared with the losses) ----------------------------------


def select(mask, a, b):
    """``a`` where ``mask`` else ``b``, for finite a and b, by exact 0/1 arithmetic: on the
    unpredictable masks of activations NumPy's ``where`` is several times slower."""
    m = mask.astype(a.dtype)
    return a * m + b * (1 - m)


def log1p_exp(z):
    """ln(1 + eᶻ) without overflow: max(z, 0) + ln(1 + e^(−|z|))."""
    xp = array_module(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def stable_sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)).  Where e^(−z) overflows to ∞ the result is exactly 0, the true
    value rounded (σ(z) < 10⁻³⁸ there), so the overflow is silenced rather than avoided."""
    with np.errstate(over="ignore"):
        return 1 / (1 + array_module(z).exp(-z))


def log_softmax_parts(x, axis: int):
    """(x − m, ln Σ e^{x − m}, e^{x − m}, Σ e^{x − m}) along ``axis`` (kept), with m = max x.

    Subtracting the maximum makes every exponent ≤ 0, so extreme logits (±1000) neither overflow
    nor produce NaN: log_softmax(x) = shifted − lse and softmax(x) = e / Σ e.
    """
    xp = array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    return shifted, xp.log(total), e, total


# --- rectifiers -----------------------------------------------------------------------------------


class ReLU(Function):
    """y = max(x, 0);  ∂L/∂x = g · [x > 0] = g · [y > 0]  (0 at the kink, as PyTorch).

    Saves its output, not a mask: the next layer usually keeps that array anyway.  Both passes are
    compiled (``kernels/pointwise.py``) where they can be."""

    @staticmethod
    def forward(ctx: Context, x):
        y = pointwise.relu(x)
        if ctx.requires_grad:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        return pointwise.relu_backward(g, y, overwrite=ctx.grad_writable)


class LeakyReLU(Function):
    """y = x for x > 0, a·x otherwise;  ∂L/∂x = g for x > 0, a·g otherwise."""

    name = "leaky_relu"

    @staticmethod
    def forward(ctx: Context, x, negative_slope: float):
        xp = array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        # a·x lies below x for x > 0 and above it for x < 0 when a ≤ 1 (the reverse when a > 1).
        pick = xp.maximum if negative_slope <= 1 else xp.minimum
        return pick(x, x * negative_slope)

    @staticmethod
    def backward(ctx: Context, g):
        (positive,) = ctx.saved_tensors
        return select(positive, g, g * ctx.slope), None


class ELU(Function):
    """y = x for x > 0, α(eˣ − 1) otherwise;  ∂L/∂x = g for x > 0, g · (y + α) otherwise
    (since d/dx α(eˣ − 1) = αeˣ = y + α)."""

    @staticmethod
    def forward(ctx: Context, x, alpha: float):
        xp = array_module(x)
        positive = x > 0
        # expm1 of min(x, 0): accurate near 0, exactly 0 for x > 0, and never overflows.
        negative_part = xp.expm1(xp.minimum(x, 0)) * alpha
        ctx.save_for_backward(positive, negative_part)
        ctx.alpha = alpha
        return xp.maximum(x, 0) + negative_part

    @staticmethod
    def backward(ctx: Context, g):
        positive, negative_part = ctx.saved_tensors
        return select(positive, g, g * (negative_part + ctx.alpha)), None


class Rectify(Function):
    """Jarrett's absolute-value rectification R_abs (Jarrett et al. 2009): y = |x|;
    ∂L/∂x = g · sgn(x)  (0 at x = 0, as PyTorch's abs)."""

    @staticmethod
    def forward(ctx: Context, x):
        xp = array_module(x)
        ctx.save_for_backward(x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        return g * array_module(x).sign(x)


class SmoothAbs(Function):
    """A smooth rectifier, a differentiable stand-in for |x| (the integral of the smooth sign
    2σ(kx) − 1, as in Mendez-Vazquez's lecture notes "Introduction to the Convolutional Network"):

        f(x) = 2/k · ln(1 + e^{kx}) − x − 2/k · ln 2 = 2/k · ln cosh(kx/2),
        f'(x) = 2σ(kx) − 1 = tanh(kx/2)          (a smooth sign, the sigmoid's),
        ∂L/∂x = g · tanh(kx/2).

    f ≥ 0, f(0) = 0, f(x) ≈ k x²/4 near 0 and f(x) → |x| − 2/k · ln 2 for large |x|.  It is
    evaluated as 2/k · ln cosh(t), t = kx/2, through ln cosh t = ln(1 + 2 sinh²(t/2)) for |t| < 1
    (no cancellation near 0) and |t| − ln 2 + ln(1 + e^(−2|t|)) beyond (no overflow), so both
    branches are ≥ 0 in floating point too.
    """

    name = "smooth_abs"

    @staticmethod
    def forward(ctx: Context, x, k: float):
        xp = array_module(x)
        t = xp.abs(x) * (k / 2)
        small = t < 1
        ts = xp.minimum(t, 1)  # keeps sinh finite in the branch that is discarded
        near = xp.log1p(2 * xp.sinh(ts / 2) ** 2)
        far = t - math.log(2) + xp.log1p(xp.exp(-2 * t))
        ctx.save_for_backward(x)
        ctx.k = k
        return select(small, near, far) * (2 / k)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        return g * array_module(x).tanh(x * (ctx.k / 2)), None


# --- squashing functions --------------------------------------------------------------------------


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e^(−x));  ∂L/∂x = g · y (1 − y)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = stable_sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class Tanh(Function):
    """y = tanh x;  ∂L/∂x = g · (1 − y²)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Softplus(Function):
    """The slides' smooth ReLU with sharpness β (their k), linearised like PyTorch's:

        y = 1/β · ln(1 + e^{βx})  if βx ≤ threshold,   y = x  otherwise;
        ∂L/∂x = g · σ(βx)         if βx ≤ threshold,   g  otherwise.
    """

    @staticmethod
    def forward(ctx: Context, x, beta: float, threshold: float):
        z = x * beta
        linear = z > threshold
        linear = linear if linear.any() else None  # usually no element is past the threshold
        ctx.save_for_backward(z, linear)
        y = log1p_exp(z) / beta
        return y if linear is None else select(linear, x, y)

    @staticmethod
    def backward(ctx: Context, g):
        z, linear = ctx.saved_tensors
        gx = g * stable_sigmoid(z)
        return (gx if linear is None else select(linear, g, gx)), None, None


# --- learned gain ---------------------------------------------------------------------------------


class Gain(Function):
    """Per-channel gain of a non-linearity layer (Jarrett et al. 2009, F_CSG): Yᵢ = gᵢ · Xᵢ for
    channel i of X (N, C, ...), where X is already f(Y⁽ˡ⁻¹⁾);
    ∂L/∂X = G · gᵢ,   ∂L/∂gᵢ = Σ_{n, pixels} G · X  over channel i."""

    @staticmethod
    def forward(ctx: Context, x, weight):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        w = weight.reshape(shape)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        return x * w

    @staticmethod
    def backward(ctx: Context, g):
        x, w = ctx.saved_tensors
        gx = g * w if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            axes = (0,) + tuple(range(2, g.ndim))
            gw = (g * x).sum(axis=axes)
        return gx, gw


# --- softmax along a dim --------------------------------------------------------------------------


class Softmax(Function):
    """yᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m}  (m = max x);  ∂L/∂x = y · (g − Σⱼ gⱼ yⱼ)."""

    @staticmethod
    def forward(ctx: Context, x, dim: int):
        _, _, e, total = log_softmax_parts(x, dim)
        y = e
        y /= total
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        return gy - y * gy.sum(axis=ctx.dim, keepdims=True), None


class LogSoftmax(Function):
    """yᵢ = xᵢ − m − ln Σⱼ e^{xⱼ − m}  (m = max x);  ∂L/∂x = g − softmax(x) · Σⱼ gⱼ."""

    name = "log_softmax"

    @staticmethod
    def forward(ctx: Context, x, dim: int):
        shifted, lse, _, _ = log_softmax_parts(x, dim)
        y = shifted
        y -= lse
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        xp = array_module(g)
        return g - xp.exp(y) * g.sum(axis=ctx.dim, keepdims=True), None


# --- functional forms (PyTorch's signatures) ------------------------------------------------------


def relu(input: Any, inplace: bool = False):
    """Rectified linear unit: y = max(x, 0).

    It does not saturate for x > 0, so deep networks train much faster than with tanh.
    ``inplace`` is accepted for PyTorch compatibility and ignored.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g where x > 0, else 0: the gradient passes unchanged through active units.

    References:
        Jarrett et al. 2009; Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with
        deep convolutional neural networks".
    """
    return ReLU.apply(input)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False):
    """Leaky ReLU: y = x for x > 0, a·x otherwise (a = ``negative_slope``).

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g for x > 0, a·g otherwise, so inactive units still learn a little.

    References:
        Maas, Hannun & Ng 2013, "Rectifier nonlinearities improve neural network acoustic models".
    """
    return LeakyReLU.apply(input, float(negative_slope))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False):
    """Exponential linear unit: y = x for x > 0, α·(eˣ − 1) otherwise.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g for x > 0, g·(y + α) otherwise.

    References:
        Clevert, Unterthiner & Hochreiter 2016, "Fast and accurate deep network learning by
        exponential linear units (ELUs)".
    """
    return ELU.apply(input, float(alpha))


def sigmoid(input: Any):
    """Logistic sigmoid: y = σ(x) = 1 / (1 + e^(−x)), in (0, 1).

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g · y · (1 − y); at most g/4, which is why deep sigmoid stacks learn slowly.

    References:
        LeCun et al. 1998; Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.3.2.
    """
    return Sigmoid.apply(input)


def tanh(input: Any):
    """Hyperbolic tangent: y = tanh x, in (−1, 1).

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g · (1 − y²).

    References:
        LeCun et al. 1998; Jarrett et al. 2009 (tanh followed by a gain, F_CSG).
    """
    return Tanh.apply(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0):
    """Softplus, a smooth ReLU: y = (1/β) · ln(1 + e^(βx)); linear where βx > ``threshold``.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g · σ(βx), the sigmoid; larger β makes it closer to ReLU's step.

    References:
        Dugas et al. 2001, "Incorporating second-order functional knowledge for better option
        pricing"; Glorot, Bordes & Bengio 2011, "Deep sparse rectifier neural networks".
    """
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero, got 0")
    return Softplus.apply(input, float(beta), float(threshold))


def rectify(input: Any):
    """Absolute-value rectification R_abs: y = |x|.

    Keeps the magnitude of a filter response whatever its sign, so a filter and its negative
    detect the same feature; Jarrett et al. found it central to their results.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g · sgn(x) (0 at x = 0).

    References:
        Jarrett et al., ICCV 2009, "What is the best multi-stage architecture for object
        recognition?"
    """
    return Rectify.apply(input)


def smooth_abs(input: Any, k: float = 1.0):
    """Smooth absolute value: y = (2/k) · ln(1 + e^(kx)) − x − (2/k) · ln 2 = (2/k) · ln cosh(kx/2).

    A differentiable stand-in for ``rectify``: 0 at x = 0 and |x| − (2/k)·ln 2 far from it,
    sharper as k grows.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g · tanh(kx/2) = g · (2σ(kx) − 1), a smooth sign, defined everywhere.

    References:
        A. Mendez-Vazquez, "Introduction to the Convolutional Network" (lecture notes, 2021);
        Jarrett et al. 2009 for |x| itself.
    """
    if not k > 0:
        raise ValueError(f"smooth_abs: k must be > 0, got {k}")
    return SmoothAbs.apply(input, float(k))


def gain(input: Any, weight: Any):
    """Per-channel gain: yᵢ = gᵢ · xᵢ for each channel i, with g a learned (C,) weight.

    It follows a saturating non-linearity (tanh) to restore the scale it removes.

    Shape:
        input (N, C, *), weight (C,); output as the input.

    Backward:
        ∂L/∂x = g · gᵢ on channel i; ∂L/∂gᵢ = Σ (upstream gradient · x) over channel i.

    References:
        Jarrett et al., ICCV 2009, "What is the best multi-stage architecture for object
        recognition?" (F_CSG: convolution, sigmoid/tanh, gain).
    """
    if input.ndim < 2:
        raise ValueError("gain: expected input with at least 2 dims (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    checks.expect_rank("gain", "weight", weight, 1, "(C,)")
    checks.expect_channels("gain", "input", input.shape[1], weight.shape[0], input.shape)
    return Gain.apply(input, weight)


def _dim(op: str, input: Any, dim: int | None) -> int:
    if dim is None:  # PyTorch's deprecated implicit choice, with its warning
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated; pass dim=",
                      UserWarning, stacklevel=3)
        return 0 if input.ndim in (0, 1, 3) else 1
    if not -max(input.ndim, 1) <= dim < max(input.ndim, 1):
        raise ValueError(f"{op}: dim {dim} is out of range for input of shape {tuple(input.shape)}")
    return dim % max(input.ndim, 1)


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """Softmax along ``dim``: yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ), probabilities that sum to 1.

    ``dim`` None picks PyTorch's legacy choice (with its warning); ``dtype`` casts the input first.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = y · (g − Σⱼ gⱼ yⱼ).

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.3.
    """
    if dtype is not None:
        input = input.to(dtype=dtype)
    return Softmax.apply(input, _dim("softmax", input, dim))


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """Log-softmax along ``dim``: yᵢ = xᵢ − ln Σⱼ e^(xⱼ), computed stably (max subtracted).

    ``dim`` None picks PyTorch's legacy choice (with its warning); ``dtype`` casts the input first.

    Shape:
        any; the output has the input's shape.

    Backward:
        ∂L/∂x = g − softmax(x) · Σⱼ gⱼ.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.3.
    """
    if dtype is not None:
        input = input.to(dtype=dtype)
    return LogSoftmax.apply(input, _dim("log_softmax", input, dim))
