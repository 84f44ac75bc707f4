"""Colour transforms: brightness, contrast and saturation with torchvision's formulas, and the
luma they blend with."""

from __future__ import annotations

import math

import numpy as np

from ..random import resolve_generator
from .transforms import _check_batch, _compute_dtype, _like, _max_value

GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R BT.601 luma, as torchvision's rgb_to_grayscale


def _blend(image: np.ndarray, other: np.ndarray | float, factor: np.ndarray,
           bound: float) -> np.ndarray:
    """clip(f·image + (1 − f)·other, 0, bound), with one f per image."""
    f = np.asarray(factor, image.dtype).reshape(-1, 1, 1, 1)
    return np.clip(f * image + (1 - f) * other, 0, bound)


def grey(batch: np.ndarray) -> np.ndarray:
    """The (N, 1, H, W) luma 0.2989 R + 0.587 G + 0.114 B of an RGB batch (a grey one as it
    is), in the compute dtype."""
    batch = batch.astype(_compute_dtype(batch.dtype), copy=False)
    if batch.shape[1] == 1:
        return batch
    weights = np.asarray(GREY_WEIGHTS, batch.dtype).reshape(1, 3, 1, 1)
    return (batch * weights).sum(axis=1, keepdims=True)


def adjust_brightness(batch: np.ndarray, factor: np.ndarray, bound: float) -> np.ndarray:
    """clip(f·x, 0, bound) per image: a blend with black."""
    return _blend(batch, 0.0, factor, bound)


def adjust_contrast(batch: np.ndarray, factor: np.ndarray, bound: float) -> np.ndarray:
    """clip(f·x + (1 − f)·m, 0, bound), m the mean luma of each image."""
    mean = grey(batch).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(batch, mean, factor, bound)


def adjust_saturation(batch: np.ndarray, factor: np.ndarray, bound: float) -> np.ndarray:
    """clip(f·x + (1 − f)·luma(x), 0, bound) per pixel; a grey batch is returned unchanged."""
    if batch.shape[1] != 3:
        return batch
    return _blend(batch, grey(batch), factor, bound)


class ColorJitter:
    """Random brightness, contrast and saturation: torchvision's ``ColorJitter`` without hue.

    Each image draws f ~ U[max(0, 1 − s), 1 + s] for each strength s that is not 0 and
    applies, in this fixed order (torchvision's is random), :func:`adjust_brightness`,
    :func:`adjust_contrast` and :func:`adjust_saturation` (RGB only). Values are clipped to
    [0, ``bound``]: by default 255 for ``uint8`` batches, 1.0 for float ones.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 bound: float | None = None, generator: np.random.Generator | None = None):
        for name, value in (("brightness", brightness), ("contrast", contrast),
                            ("saturation", saturation)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"ColorJitter: {name} must be a finite number >= 0, got "
                                 f"{value!r}")
        self.strengths = ((adjust_brightness, float(brightness)),
                          (adjust_contrast, float(contrast)),
                          (adjust_saturation, float(saturation)))
        self.bound = bound
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "ColorJitter")
        rng = rng if rng is not None else resolve_generator(self.generator)
        bound = _max_value(batch.dtype) if self.bound is None else self.bound
        out = batch.astype(_compute_dtype(batch.dtype))
        for adjust, strength in self.strengths:
            if strength:
                factor = rng.uniform(max(0.0, 1 - strength), 1 + strength, batch.shape[0])
                out = adjust(out, factor, bound)
        return _like(out, batch.dtype)

    def __repr__(self) -> str:
        b, c, s = (strength for _, strength in self.strengths)
        return f"ColorJitter(brightness={b}, contrast={c}, saturation={s})"
