"""SubtractiveNorm2d: Jarrett et al.'s (2009) subtractive normalisation as a layer of its own."""

from __future__ import annotations

from typing import Any

from ..ops.local_norm import subtractive_norm
from .module import Module


class SubtractiveNorm2d(Module):
    """Subtractive normalisation (``F.subtractive_norm``): x minus its local mean.

        v = x − G(Σ_j x_j),   G a normalised Gaussian window over positions and all maps

    The first half of ``LocalContrastNorm``, as a layer of its own.

    Args:
        kernel_size: the window, odd: an int or (kh, kw).
        sigma: the Gaussian's standard deviation in pixels (default: a quarter of the larger
            side).

    Shape:
        Input (N, C, H, W); output the same.

    Backward:
        The map is linear and symmetric, so the gradient loses its local mean the same way:
        ∂L/∂x = g − G(Σ_j g_j).

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage
        architecture for object recognition?".
    """

    def __init__(self, kernel_size: int | tuple[int, int] = 9, sigma: float | None = None):
        super().__init__()
        self.kernel_size, self.sigma = kernel_size, sigma

    def forward(self, input: Any) -> Any:
        return subtractive_norm(input, self.kernel_size, self.sigma)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"
