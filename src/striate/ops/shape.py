"""Ops that move values without changing them: reshape, permute, indexing, concatenation, padding,
dtype and device moves.  Each backward moves the gradient back the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_module, device_of, to_device
from ..function import Context, Function
from ..kernels.layout import empty, full, memory_order


class Reshape(Function):
    """y = reshape(x);  ∂L/∂x = reshape(g, shape of x)."""

    @staticmethod
    def forward(ctx: Context, x, shape: tuple[int, ...]):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Context, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    """y = x with axes reordered by p;  ∂L/∂x = g with axes reordered by p⁻¹."""

    @staticmethod
    def forward(ctx: Context, x, axes: tuple[int, ...]):
        ctx.inverse = tuple(int(i) for i in array_module(x).argsort(array_module(x).asarray(axes)))
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, g):
        return g.transpose(ctx.inverse)


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


class Index(Function):
    """y = x[index];  ∂L/∂x = zeros with g scattered back to the indexed places (summed where an
    advanced index repeats a position)."""

    @staticmethod
    def forward(ctx: Context, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        ctx.order = memory_order(x)  # the gradient keeps x's layout
        return x[index]

    @staticmethod
    def backward(ctx: Context, g):
        xp = array_module(g)
        gx = full(ctx.shape, ctx.order, 0, ctx.dtype, xp)
        if _is_basic(ctx.index):
            gx[ctx.index] = g
        else:
            xp.add.at(gx, ctx.index, g)
        return gx


class Cat(Function):
    """y = concat(x₁, …, xₙ) along dim;  ∂L/∂xᵢ = the slice of g that xᵢ filled."""

    @staticmethod
    def forward(ctx: Context, *xs, dim: int = 0):
        Cat.record(ctx, xs, dim)
        return array_module(*xs).concatenate(xs, axis=ctx.dim)

    @staticmethod
    def record(ctx: Context, xs: tuple, dim: int) -> None:
        """Note on ``ctx`` the axis and each piece's (start, stop) along it, for the backward."""
        ctx.dim = dim % xs[0].ndim
        ctx.bounds = []
        start = 0
        for x in xs:
            ctx.bounds.append((start, start + x.shape[ctx.dim]))
            start += x.shape[ctx.dim]

    @staticmethod
    def backward(ctx: Context, g):
        lead = (slice(None),) * ctx.dim
        return tuple(g[lead + (slice(a, b),)] if need else None
                     for (a, b), need in zip(ctx.bounds, ctx.needs_input_grad, strict=True))


class Stack(Function):
    """y = stack(x₁, …, xₙ) on a new axis dim;  ∂L/∂xᵢ = g taken at position i of that axis."""

    @staticmethod
    def forward(ctx: Context, *xs, dim: int = 0):
        ctx.dim = dim % (xs[0].ndim + 1)
        return array_module(*xs).stack(xs, axis=ctx.dim)

    @staticmethod
    def backward(ctx: Context, g):
        return tuple(g.take(i, axis=ctx.dim) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


class ConstantPad(Function):
    """y = x surrounded by a constant;  ∂L/∂x = the interior of g (negative pads crop).  Both keep
    their input's memory layout (a convolution's output is an NCHW view of (C, N, H, W) memory;
    padded into NCHW memory, ResNet's shortcut made every residual sum after it mix layouts).
    Without a crop the gradient is a view of g's interior, and the forward writes the constant
    only around x (ResNet-20's channel-padding shortcut, batch 128, forward + backward: the
    backward had filled and copied a second array of the output's size)."""

    @staticmethod
    def forward(ctx: Context, x, widths: tuple[tuple[int, int], ...], value: float):
        grow = tuple((max(a, 0), max(b, 0)) for a, b in widths)
        grown = tuple(n + a + b for n, (a, b) in zip(x.shape, grow, strict=True))
        interior = tuple(slice(a, a + n) for (a, _), n in zip(grow, x.shape, strict=True))
        y = empty(grown, memory_order(x), x.dtype, array_module(x))
        for axis, (before, after) in enumerate(grow):  # the border, one slab per side
            lead = interior[:axis]
            if before:
                y[lead + (slice(0, before),)] = value
            if after:
                y[lead + (slice(grown[axis] - after, None),)] = value
        y[interior] = x
        crop = tuple(slice(max(-a, 0), n - max(-b, 0))
                     for (a, b), n in zip(widths, grown, strict=True))
        ctx.interior, ctx.crop, ctx.grown_shape = interior, crop, grown
        ctx.cropped = any(a < 0 or b < 0 for a, b in widths)
        return y[crop]

    @staticmethod
    def backward(ctx: Context, g):
        if not ctx.cropped:  # g is the grown array itself
            return g[ctx.interior]
        grown = full(ctx.grown_shape, memory_order(g), 0, g.dtype, array_module(g))
        grown[ctx.crop] = g
        return grown[ctx.interior]


class Expand(Function):
    """y = x broadcast to a larger shape;  ∂L/∂x = g summed over the stretched axes (the engine's
    ``unbroadcast`` does the sum)."""

    @staticmethod
    def forward(ctx: Context, x, shape: tuple[int, ...]):
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, g):
        return g


class Copy(Function):
    """y = x (a new array);  ∂L/∂x = g."""

    @staticmethod
    def forward(ctx: Context, x):
        return x.copy()

    @staticmethod
    def backward(ctx: Context, g):
        return g


class AsType(Function):
    """y = x converted to another float dtype;  ∂L/∂x = g converted back."""

    @staticmethod
    def forward(ctx: Context, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, g):
        return g.astype(ctx.dtype)


class Move(Function):
    """y = x on another device;  ∂L/∂x = g moved back."""

    @staticmethod
    def forward(ctx: Context, x, device: str):
        ctx.device = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx: Context, g):
        return to_device(g, ctx.device)


# --- functional forms ---------------------------------------------------------------------------


def reshape(x: Any, *shape: Any):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, tuple(int(s) for s in shape))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1):
    """Merge the dims ``start_dim``..``end_dim`` into one, as ``torch.flatten``.

        (d0, …, d_s, …, d_e, …) → (d0, …, d_s · … · d_e, …)

    No value moves: a reshape (a view of contiguous data). In a CNN, what turns the last
    feature maps (N, C, H, W) into the vectors (N, C·H·W) that a fully connected classifier
    takes.

    Args:
        x: a tensor of any shape.
        start_dim: the first dim merged (negative counts from the end).
        end_dim: the last dim merged.

    Shape:
        Input (*, d_s, …, d_e, *); output (*, d_s · … · d_e, *).

    Backward:
        The gradient is reshaped back to the input's shape; nothing else.

    References:
        LeCun et al. 1998, "Gradient-based learning applied to document recognition" (the
        feature maps feeding the fully connected layers); Goodfellow, Bengio & Courville,
        "Deep Learning" (2016), §9.
    """
    shape = x.shape
    if not shape:
        return reshape(x, 1)
    start, end = start_dim % len(shape), end_dim % len(shape)
    merged = 1
    for n in shape[start:end + 1]:
        merged *= n
    return reshape(x, shape[:start] + (merged,) + shape[end + 1:])


def permute(x: Any, *axes: Any):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Permute.apply(x, tuple(a % x.ndim for a in axes))


def transpose(x: Any, dim0: int, dim1: int):
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, tuple(axes))


def unsqueeze(x: Any, dim: int):
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x: Any, dim: int | None = None):
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dim = dim % x.ndim
    if x.shape[dim] != 1:
        return x
    return reshape(x, x.shape[:dim] + x.shape[dim + 1:])


def index(x: Any, item: Any):
    from ..tensor import Tensor

    if isinstance(item, tuple):
        item = tuple(i.data if isinstance(i, Tensor) else i for i in item)
    elif isinstance(item, Tensor):
        item = item.data
    return Index.apply(x, item)


def cat(tensors: Sequence[Any], dim: int = 0):
    """Concatenate tensors along an existing dim (``torch.cat``)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ref = tensors[0].shape
    d = dim % len(ref)
    for t in tensors[1:]:
        if len(t.shape) != len(ref) or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, ref, strict=True)) if i != d):
            raise ValueError(
                f"cat: shapes {tuple(ref)} and {tuple(t.shape)} differ outside dim {dim}")
    return Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Any], dim: int = 0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: all shapes must agree, got {[tuple(t.shape) for t in tensors]}")
    return Stack.apply(*tensors, dim=dim)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0):
    """Pad with PyTorch's convention: ``pad = (left, right, top, bottom, ...)`` from the last dim
    backwards.  Only ``mode='constant'`` is differentiable here; negative widths crop."""
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported; use mode='constant'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths, at most 2×{x.ndim}, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return ConstantPad.apply(x, tuple(widths), value)


def expand(x: Any, *shape: Any):
    """Broadcast to ``shape`` (``-1`` keeps a dim), as ``Tensor.expand``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    extra = len(shape) - x.ndim
    return Expand.apply(x, tuple(x.shape[i - extra] if n == -1 else int(n)
                                 for i, n in enumerate(shape)))


def copy(x: Any):
    return Copy.apply(x)


def astype(x: Any, dtype):
    return AsType.apply(x, dtype)


def move(x: Any, device: str):
    return Move.apply(x, device)
