"""Element-wise arithmetic.  Broadcasting is undone by the engine (``tensor.unbroadcast``), so each
backward returns gradients of the broadcast shape."""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..function import Context, Function


class Add(Function):
    """y = a + b;  ∂L/∂a = g,  ∂L/∂b = g."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a + b

    @staticmethod
    def backward(ctx: Context, g):
        return g, g


class Sub(Function):
    """y = a − b;  ∂L/∂a = g,  ∂L/∂b = −g."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a - b

    @staticmethod
    def backward(ctx: Context, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a · b;  ∂L/∂a = g · b,  ∂L/∂b = g · a."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return a * b

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    """y = a / b;  ∂L/∂a = g / b,  ∂L/∂b = −g · a / b²."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = −x;  ∂L/∂x = −g."""

    @staticmethod
    def forward(ctx: Context, x):
        return -x

    @staticmethod
    def backward(ctx: Context, g):
        return -g


class Pow(Function):
    """y = x^p for a constant exponent p;  ∂L/∂x = g · p · x^(p−1)."""

    @staticmethod
    def forward(ctx: Context, x, p: float):
        ctx.save_for_backward(x)
        ctx.p = p
        return x**p

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        return g * p * x ** (p - 1), None


class Exp(Function):
    """y = eˣ;  ∂L/∂x = g · y."""

    @staticmethod
    def forward(ctx: Context, x):
        y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = ln x;  ∂L/∂x = g / x."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    """y = √x;  ∂L/∂x = g / (2y)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Clamp(Function):
    """y = min(max(x, lo), hi);  ∂L/∂x = g where lo ≤ x ≤ hi, else 0."""

    @staticmethod
    def forward(ctx: Context, x, lo: float | None, hi: float | None):
        xp = array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.save_for_backward(inside)
        return xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx: Context, g):
        (inside,) = ctx.saved_tensors
        return g * inside, None, None


class Where(Function):
    """y = a where cond else b;  ∂L/∂a = g · cond,  ∂L/∂b = g · (1 − cond)."""

    @staticmethod
    def forward(ctx: Context, cond, a, b):
        ctx.save_for_backward(cond)
        return array_module(a, b).where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, g):
        (cond,) = ctx.saved_tensors
        zero = g.dtype.type(0)
        xp = array_module(g)
        return (None,
                xp.where(cond, g, zero) if ctx.needs_input_grad[1] else None,
                xp.where(cond, zero, g) if ctx.needs_input_grad[2] else None)


def exp(x: Any):
    return Exp.apply(x)


def log(x: Any):
    return Log.apply(x)


def sqrt(x: Any):
    return Sqrt.apply(x)


def clamp(x: Any, min: float | None = None, max: float | None = None):  # noqa: A002
    return Clamp.apply(x, min, max)


def where(cond: Any, a: Any, b: Any):
    from ..tensor import Tensor, as_tensor_like

    like = a if isinstance(a, Tensor) else b
    return Where.apply(cond.data if isinstance(cond, Tensor) else cond,
                       as_tensor_like(a, like), as_tensor_like(b, like))
