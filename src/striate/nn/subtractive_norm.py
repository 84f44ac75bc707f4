"""SubtractiveNorm2d: Jarrett et al.'s (2009) subtractive normalisation as a layer of its own."""

from __future__ import annotations

from typing import Any

from ..ops.local_norm import subtractive_norm
from .module import Module


class SubtractiveNorm2d(Module):
    """``F.subtractive_norm`` as a layer: x minus its Gaussian-weighted local mean over the
    ``kernel_size`` neighbourhood and all maps (the first half of ``LocalContrastNorm``)."""

    def __init__(self, kernel_size: int | tuple[int, int] = 9, sigma: float | None = None):
        super().__init__()
        self.kernel_size, self.sigma = kernel_size, sigma

    def forward(self, input: Any) -> Any:
        return subtractive_norm(input, self.kernel_size, self.sigma)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"
