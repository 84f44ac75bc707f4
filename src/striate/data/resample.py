"""Transforms that resample the image by bilinear interpolation: resize, random-resized crop,
rotation.  They compute in float32 (float64 for float64 batches) and return the input's dtype,
integers rounded, as torchvision does."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..random import resolve_generator
from .transforms import _check_batch, _check_box_range, _compute_dtype, _like, _pair, random_boxes


def bilinear_sample(batch: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Image ``n`` of ``batch`` (N, C, H, W) read at the points ``(y[n, i, j], x[n, i, j])``
    (arrays broadcastable to (N, Ho, Wo), in pixel coordinates: pixel (0, 0)'s centre is
    (0, 0)) by bilinear interpolation; a float (N, C, Ho, Wo) array.

    out = Σ (1 − |y − y'|)(1 − |x − x'|) · batch[y', x'] over the four pixels around the point,
    those outside the image counting as 0: PyTorch's ``grid_sample(..., "bilinear",
    padding_mode="zeros", align_corners=False)`` in pixel rather than normalised coordinates.
    """
    n, c, h, w = batch.shape
    dtype = _compute_dtype(batch.dtype)
    y, x = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(x, np.float64))
    y0, x0 = np.floor(y), np.floor(x)
    fy, fx = (y - y0).astype(dtype), (x - x0).astype(dtype)
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
    pixels = batch.transpose(0, 2, 3, 1)  # each gather takes a point's C values
    image = np.arange(n).reshape(n, 1, 1)
    out = np.zeros((*y.shape, c), dtype)
    for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
        for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            weight = np.where(inside, wy * wx, 0)[..., None]
            out += weight * pixels[image, yy.clip(0, h - 1), xx.clip(0, w - 1)]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def resized_crop(
    batch: np.ndarray,
    top: np.ndarray | int,
    left: np.ndarray | int,
    height: np.ndarray | int,
    width: np.ndarray | int,
    size: tuple[int, int],
) -> np.ndarray:
    """Cut the box ``(top[i], left[i], height[i], width[i])`` out of image ``i`` and resize it to
    ``size`` = (Ho, Wo) by bilinear interpolation; the input's dtype.

    Output row r reads the box's row (r + ½)·height/Ho − ½, clamped to [0, height − 1] (and the
    columns likewise): half-pixel centres, PyTorch's ``interpolate(mode="bilinear",
    align_corners=False, antialias=False)`` of the cropped image. Without antialiasing, a
    shrink by more than 2 skips pixels.
    """
    n = batch.shape[0]

    def rows(start, length, out: int) -> np.ndarray:  # (N, out) source coordinates
        start = np.broadcast_to(np.asarray(start, np.float64), (n,))[:, None]
        length = np.broadcast_to(np.asarray(length, np.float64), (n,))[:, None]
        source = (np.arange(out) + 0.5) * (length / out) - 0.5
        return start + np.clip(source, 0, length - 1)

    y = rows(top, height, size[0])[:, :, None]
    x = rows(left, width, size[1])[:, None, :]
    return _like(bilinear_sample(batch, y, x), batch.dtype)


class Resize:
    """Resize every image to ``size`` (an int: square) by bilinear interpolation with
    half-pixel centres (see :func:`resized_crop`); a batch already of that size is returned
    as it is."""

    def __init__(self, size: int | Sequence[int]):
        self.size = _pair(size, "Resize size")
        if min(self.size) < 1:
            raise ValueError(f"Resize: size must be positive, got {size!r}")

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "Resize")
        h, w = batch.shape[2:]
        if (h, w) == self.size:
            return batch
        return resized_crop(batch, 0, 0, h, w, self.size)

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


class RandomResizedCrop:
    """Cut a random box from every image and resize it to ``size`` (bilinear,
    :func:`resized_crop`): torchvision's ``RandomResizedCrop`` (Szegedy et al., "Going deeper
    with convolutions", 2015).

    The box covers a fraction s ~ U(``scale``) of the image's area with an aspect ratio
    r = w/h, log r ~ U(log ``ratio``): w = round(√(s·H·W·r)), h = round(√(s·H·W/r)), at a
    uniform position (:func:`random_boxes`). Of 10 such draws per image the first that fits is
    taken; when none does, the largest centred box whose ratio is within ``ratio``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        generator: np.random.Generator | None = None,
    ):
        self.size = _pair(size, "RandomResizedCrop size")
        if min(self.size) < 1:
            raise ValueError(f"RandomResizedCrop: size must be positive, got {size!r}")
        _check_box_range("RandomResizedCrop", scale, ratio, 1)
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.generator = generator

    def boxes(self, shape: tuple[int, ...], rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(top, left, height, width)`` of each image's box, for a batch of ``shape``."""
        h_img, w_img = shape[2:]
        h, w, found = random_boxes(shape, self.scale, self.ratio, rng)
        h[~found], w[~found] = self._central(h_img, w_img)
        top = rng.integers(0, h_img - h + 1)
        left = rng.integers(0, w_img - w + 1)
        top[~found], left[~found] = (h_img - h[~found]) // 2, (w_img - w[~found]) // 2
        return top, left, h, w

    def _central(self, h: int, w: int) -> tuple[int, int]:
        """The fallback box's (height, width): the whole image cut to the nearest ratio."""
        if w / h < self.ratio[0]:
            return int(round(w / self.ratio[0])), w
        if w / h > self.ratio[1]:
            return h, int(round(h * self.ratio[1]))
        return h, w

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomResizedCrop")
        rng = rng if rng is not None else resolve_generator(self.generator)
        return resized_crop(batch, *self.boxes(batch.shape, rng), self.size)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


def rotate(batch: np.ndarray, degrees: np.ndarray | float, fill: float = 0) -> np.ndarray:
    """Rotate image ``i`` by ``degrees[i]`` counter-clockwise about its centre, bilinear, the
    area brought in from outside the image filled with ``fill``; the input's dtype.

    Output pixel p reads the input at c + R(θ)(p − c), R(θ) = [[cos θ, −sin θ], [sin θ,
    cos θ]] in (x, y) with y downwards, c = ((W − 1)/2, (H − 1)/2): torchvision's
    ``rotate(..., BILINEAR)`` (its ``fill=None``: grid_sample's zero padding, for ``fill`` 0).
    """
    n, _, h, w = batch.shape
    theta = np.deg2rad(np.broadcast_to(np.asarray(degrees, np.float64), (n,)))[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    y = (np.arange(h) - (h - 1) / 2)[None, :, None]
    x = (np.arange(w) - (w - 1) / 2)[None, None, :]
    sx, sy = cos * x - sin * y + (w - 1) / 2, sin * x + cos * y + (h - 1) / 2
    if fill == 0:
        return _like(bilinear_sample(batch, sy, sx), batch.dtype)
    shifted = batch.astype(_compute_dtype(batch.dtype)) - fill  # pad with fill, not with 0
    return _like(bilinear_sample(shifted, sy, sx) + fill, batch.dtype)


class RandomRotation:
    """Rotate every image by an angle drawn uniformly from [−``degrees``, ``degrees``]
    (:func:`rotate`: bilinear, about the centre, the corners brought in filled with ``fill``)."""

    def __init__(self, degrees: float = 15.0, fill: float = 0,
                 generator: np.random.Generator | None = None):
        if not (math.isfinite(degrees) and degrees >= 0):
            raise ValueError(f"RandomRotation: degrees must be a finite number >= 0, got "
                             f"{degrees!r}")
        self.degrees, self.fill = float(degrees), fill
        self.generator = generator

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch = _check_batch(batch, "RandomRotation")
        rng = rng if rng is not None else resolve_generator(self.generator)
        angles = rng.uniform(-self.degrees, self.degrees, batch.shape[0])
        return rotate(batch, angles, self.fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees}, fill={self.fill})"
