"""A channel concatenation that grows one piece at a time in one buffer: a dense block's input.

Layer l of a dense block reads cat(x₀, f₁, …, f_{l−1}) along the channels.  Built with ``cat``,
each layer's input is a new array holding every earlier map again, and batch norm keeps it for
the backward: memory and copying grow with the square of the block's depth.  Here all the pieces
live in one (C_total, N, H, W) array, allocated once per forward; each new piece is copied into
its slot once, and the concatenation so far is a view of the leading channels (the NCHW view of
channel-first memory that convolutions also return, which the kernels read without a copy).  The
views stay valid after later appends, since a later piece only writes channels beyond them: this
is the shared-storage idea of Pleiss et al., "Memory-Efficient Implementation of DenseNets"
(2017), without their recomputation.

The gradient is that of ``cat``: ∂L/∂fᵢ is the slice of the view's gradient that fᵢ filled.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..function import Context
from ..tensor import Tensor
from .shape import Cat


class GrowingCat:
    """cat(pieces, dim=1) of NCHW tensors appended one at a time, ``channels`` in all at most;
    :attr:`tensor` is the concatenation of the pieces so far."""

    def __init__(self, first: Tensor, channels: int):
        if first.ndim != 4:
            raise ValueError(f"GrowingCat: expected NCHW maps, got shape {tuple(first.shape)}")
        n, c, h, w = first.shape
        if channels < c:
            raise ValueError(f"GrowingCat: room for {channels} channels, but the first piece "
                             f"has {c}")
        self.buffer = array_module(first.data).empty((channels, n, h, w), dtype=first.dtype)
        self.pieces: list[Tensor] = []
        self.filled = 0  # channels written
        self.append(first)

    def append(self, piece: Tensor) -> Tensor:
        """Copy ``piece`` (N, c, H, W) into the next c channels; the concatenation so far."""
        expected = (self.buffer.shape[1], *self.buffer.shape[2:])
        if (piece.shape[0], *piece.shape[2:]) != expected or piece.dtype != self.buffer.dtype:
            raise ValueError(f"GrowingCat: a piece of shape {tuple(piece.shape)} ({piece.dtype}) "
                             f"does not fit maps of (N, H, W) = {expected} "
                             f"({self.buffer.dtype})")
        end = self.filled + piece.shape[1]
        if end > self.buffer.shape[0]:
            raise ValueError(f"GrowingCat: {end} channels exceed the room for "
                             f"{self.buffer.shape[0]}")
        self.buffer[self.filled:end] = piece.data.transpose(1, 0, 2, 3)
        self.filled = end
        self.pieces.append(piece)
        self.tensor = GrowingCatView.apply(*self.pieces, buffer=self.buffer, filled=end)
        return self.tensor


class GrowingCatView(Cat):
    """y = buffer[:filled] seen as NCHW, the pieces' concatenation (already written there);
    the backward is ``cat``'s."""

    @staticmethod
    def forward(ctx: Context, *pieces: Any, buffer: Any, filled: int) -> Any:
        Cat.record(ctx, pieces, 1)
        return buffer[:filled].transpose(1, 0, 2, 3)
