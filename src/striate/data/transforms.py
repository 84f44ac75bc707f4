"""Batch augmentations: each acts on a whole ``(N, C, H, W)`` batch at once.

This module has the geometric ones that move or blank pixels (crop, translate, flip, random
erasing), the helpers every transform shares, and :class:`Compose`; those that resample the image
are in ``resample.py``, the colour ones in ``colour.py``.

A transform is a callable ``t(batch, rng=None) -> batch``. Random ones draw from ``rng`` when
given (the :class:`~striate.data.DataLoader` passes a generator derived from its seed, which makes
a resumed run draw the same numbers) and otherwise from their own ``generator`` (default: the
global one that ``striate.manual_seed`` reseeds). Draws are made per image in one call each, so
results depend only on the generator state, not on the batch layout in memory.

The resampling ones (``Resize``, ``RandomResizedCrop``, ``RandomRotation``) and ``ColorJitter``
compute in float32 and return the input's dtype (integers rounded), as
torchvision does, so a ``uint8`` batch stays ``uint8`` until the normaliser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..random import resolve_generator

Transform = Callable[..., np.ndarray]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 0 for v in pair):
        raise ValueError(f"{name}: expected a non-negative int or (h, w) pair, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_batch(batch: np.ndarray, name: str) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise ValueError(f"{name}: expected a batch of shape (N, C, H, W), got {batch.shape}")
    return batch


def crop_padded(
    batch: np.ndarray,
    padding: tuple[int, int],
    size: tuple[int, int],
    top: np.ndarray,
    left: np.ndarray,
    fill: float = 0,
) -> np.ndarray:
    """Pad ``batch`` by ``padding`` (with ``fill``) and cut image i at ``(top[i], left[i])``.

    One gather through a sliding-window view: no per-image loop, no window copies.
    """
    ph, pw = padding
    if ph or pw:
        padded = np.pad(batch, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    else:
        padded = batch
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=(2, 3))
    # Advanced indices split by a slice put their axis first: result (N, C, h, w).
    return windows[np.arange(batch.shape[0]), :, top, left]


class RandomCrop:
    """Pad each side by ``padding`` and cut a random ``size`` window from every image."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] = 0,
        fill: float = 0,
        generator: np.random.Generator | None = None,
    ):
        self.size = _pair(size, "RandomCrop size")
        self.padding = _pair(padding, "RandomCrop padding")
        if min(self.size) < 1:
            raise ValueError(f"RandomCrop: size must be positive, got {size!r}")
        self.fill = fill
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomCrop")
        h, w = (s + 2 * p for s, p in zip(batch.shape[2:], self.padding, strict=True))
        if self.size[0] > h or self.size[1] > w:
            raise ValueError(
                f"RandomCrop: crop {self.size} larger than the padded image ({h}, {w}) of "
                f"batch {batch.shape}"
            )
        rng = rng if rng is not None else resolve_generator(self.generator)
        top = rng.integers(0, h - self.size[0] + 1, size=batch.shape[0])
        left = rng.integers(0, w - self.size[1] + 1, size=batch.shape[0])
        return crop_padded(batch, self.padding, self.size, top, left, self.fill)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomTranslate:
    """Shift every image by a random whole number of pixels in ``[-max_shift, max_shift]`` per
    axis, filling the uncovered border with ``fill``; the image size is unchanged."""

    def __init__(
        self,
        max_shift: int | Sequence[int],
        fill: float = 0,
        generator: np.random.Generator | None = None,
    ):
        self.max_shift = _pair(max_shift, "RandomTranslate max_shift")
        self.fill = fill
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomTranslate")
        rng = rng if rng is not None else resolve_generator(self.generator)
        (my, mx), n = self.max_shift, batch.shape[0]
        # Shifting by d is cropping the padded image at offset max_shift - d.
        top = rng.integers(0, 2 * my + 1, size=n)
        left = rng.integers(0, 2 * mx + 1, size=n)
        return crop_padded(batch, self.max_shift, batch.shape[2:], top, left, self.fill)

    def __repr__(self) -> str:
        return f"RandomTranslate(max_shift={self.max_shift})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomHorizontalFlip")
        rng = rng if rng is not None else resolve_generator(self.generator)
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip, :, :, ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _like(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``out`` (float) in ``dtype``: integers rounded and clipped to the dtype's range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(dtype)
    return out.astype(dtype, copy=False)


def _compute_dtype(dtype: np.dtype) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def _max_value(dtype: np.dtype) -> float:
    """The brightest pixel value: the integer type's largest, 1.0 for floats (torchvision's)."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


BOX_ATTEMPTS = 10  # draws per image before a box transform falls back, as torchvision


def random_boxes(shape: tuple[int, ...], scale: tuple[float, float], ratio: tuple[float, float],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(height, width, found)`` of a random box per image of a batch of ``shape``: area
    s·H·W, s ~ U(``scale``), aspect ratio r = w/h, log r ~ U(log ``ratio``), so
    w = round(√(s·H·W·r)), h = round(√(s·H·W/r)); the first of ``BOX_ATTEMPTS`` draws that fits
    in the image, and ``found`` False (the sizes meaningless) where none does."""
    n, (h_img, w_img) = shape[0], shape[2:]
    area = rng.uniform(*scale, (n, BOX_ATTEMPTS)) * (h_img * w_img)
    aspect = np.exp(rng.uniform(*np.log(ratio), (n, BOX_ATTEMPTS)))
    w = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    h = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    fits = (w > 0) & (w <= w_img) & (h > 0) & (h <= h_img)
    first, found = fits.argmax(axis=1), fits.any(axis=1)
    return h[np.arange(n), first], w[np.arange(n), first], found


def _check_box_range(name: str, scale: tuple[float, float], ratio: tuple[float, float],
                     max_scale: float) -> None:
    if not 0 < scale[0] <= scale[1] <= max_scale:
        raise ValueError(f"{name}: scale must satisfy 0 < low <= high <= {max_scale:g}, "
                         f"got {scale!r}")
    if not 0 < ratio[0] <= ratio[1] < math.inf:
        raise ValueError(f"{name}: ratio must satisfy 0 < low <= high, got {ratio!r}")


class RandomErasing:
    """With probability ``p``, blank out a random box of each image (Zhong et al., "Random Erasing
    Data Augmentation", 2017; torchvision's ``RandomErasing``): a box of a fraction
    s ~ U(``scale``) of the area with log-uniform aspect ratio in ``ratio``, drawn as
    :func:`random_boxes` does, at a uniform position, filled with ``value`` (in the batch's own
    units: it acts before the normaliser) or, for ``value="random"``, with noise uniform between
    0 and the brightest value. An image where none of the 10 draws fits is left as it is.
    Why: an occluded object must still be recognised by its other parts, which regularises."""

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float | str = 0,
        generator: np.random.Generator | None = None,
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        _check_box_range("RandomErasing", scale, ratio, 1)
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number or 'random', got {value!r}")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomErasing")
        rng = rng if rng is not None else resolve_generator(self.generator)
        (n, _, h_img, w_img), dtype = batch.shape, batch.dtype
        h, w, found = random_boxes(batch.shape, self.scale, self.ratio, rng)
        erase = (rng.random(n) < self.p) & found
        h, w = np.where(erase, h, 0), np.where(erase, w, 0)
        top, left = rng.integers(0, h_img - h + 1), rng.integers(0, w_img - w + 1)
        rows, cols = np.arange(h_img), np.arange(w_img)
        inside = (((rows >= top[:, None]) & (rows < (top + h)[:, None]))[:, :, None]
                  & ((cols >= left[:, None]) & (cols < (left + w)[:, None]))[:, None, :])
        boxes = np.broadcast_to(inside[:, None], batch.shape)
        out = batch.copy()
        if self.value == "random":  # noise for the erased pixels only
            out[boxes] = _like(rng.uniform(0, _max_value(dtype), int(boxes.sum())), dtype)
        else:
            out[boxes] = self.value
        return out

    def __repr__(self) -> str:
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value!r})")


class Compose:
    """Apply ``transforms`` in order, handing each the same ``rng``."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for t in self.transforms:
            batch = t(batch, rng)
        return batch

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"
