"""Batch augmentations: each acts on a whole ``(N, C, H, W)`` batch at once.

A transform is a callable ``t(batch, rng=None) -> batch``. Random ones draw from ``rng`` when
given (the :class:`~striate.data.DataLoader` passes a generator derived from its seed, which makes
a resumed run draw the same numbers) and otherwise from their own ``generator`` (default: the
global one that ``striate.manual_seed`` reseeds). Draws are made per image in one call each, so
results depend only on the generator state, not on the batch layout in memory.

The resampling ones (:class:`Resize`, :class:`RandomResizedCrop`, :class:`RandomRotation`) and
:class:`ColorJitter` compute in float32 and return the input's dtype (integers rounded), as
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
        if self.value == "random":
            fill = rng.uniform(0, _max_value(dtype), batch.shape)
            fill = np.rint(fill) if np.issubdtype(dtype, np.integer) else fill
        else:
            fill = self.value
        return np.where(inside[:, None], fill, batch).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value!r})")


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


GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R BT.601 luma, as torchvision's rgb_to_grayscale


def _max_value(dtype: np.dtype) -> float:
    """The brightest pixel value: the integer type's largest, 1.0 for floats (torchvision's)."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


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
