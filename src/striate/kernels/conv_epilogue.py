"""What a correlation's output gets while each chunk of it is still in cache: a per-channel
affine map, a residual and a rectifier (a bias, an evaluation-mode batch norm, a residual sum and
a ReLU folded into the convolution).  Done over the whole output afterwards, each was one more
pass through memory."""

from __future__ import annotations

from typing import Any, NamedTuple

from . import pointwise


class Epilogue(NamedTuple):
    """Y[:, images, rows] ← max(Y·scale + shift + R, 0) per output channel, for each chunk of an
    (O, N, Ho, Wo) output: ``scale`` and ``shift`` None mean 1 and 0 (a bias is a shift), the
    residual R ((O, N, Ho, Wo), or None) is the same chunk of another array, and the maximum is
    taken only when ``relu``."""

    scale: Any
    shift: Any
    relu: bool
    residual: Any

    def __call__(self, chunk: Any, images: slice = slice(None), rows: slice = slice(None)) -> None:
        add = None if self.residual is None else self.residual[:, images, rows]
        pointwise.affine_relu_(chunk, self.scale, self.shift, self.relu, add)


def epilogue(scale: Any, shift: Any, relu: bool, residual: Any = None) -> Epilogue | None:
    """The :class:`Epilogue` of these, or None when there is nothing to do."""
    if scale is None and shift is None and not relu and residual is None:
        return None
    return Epilogue(scale, shift, relu, residual)
