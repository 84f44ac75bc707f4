"""Batch augmentations: each acts on a whole ``(N, C, H, W)`` batch at once.

A transform is a callable ``t(batch, rng=None) -> batch``. Random ones draw from ``rng`` when
given (the :class:`~striate.data.DataLoader` passes a generator derived from its seed, which makes
a resumed run draw the same numbers) and otherwise from their own ``generator`` (default: the
global one that ``striate.manual_seed`` reseeds). Draws are made per image in one call each, so
results depend only on the generator state, not on the batch layout in memory.
"""

from __future__ import annotations

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
