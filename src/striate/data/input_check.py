"""Whether an image looks like the training images, judged by the statistics a checkpoint keeps.

A model answers for any input, and for one unlike its training images (a photo with a white
background given to a model trained on Fashion-MNIST's dark ones, an array in 0..1 where 0..255
was expected) its answer means nothing while looking as confident as any other. The checkpoint
keeps the training set's mean μ_c and standard deviation σ_c per channel (the
:class:`~striate.data.Normalizer`'s; per-pixel statistics are reduced to per-channel ones
exactly, by the law of total variance). With x an image's pixels scaled as training scaled
them (8-bit values to [0, 1]) and z = (x − μ_c) / σ_c, the checks are:

* **range**: the image's mean of z beyond ±4, or its standard deviation of z above 4 or below
  0.05. Over the training set z has mean 0 and variance 1, so the per-image means have a
  variance of at most 1 and the per-image variances a mean of at most 1 (law of total
  variance): 4 is four training standard deviations. (On Fashion-MNIST's test set the
  per-image means stay within ±1.2 and the standard deviations within 0.2–1.3.) Below 0.05 the
  image is almost uniform: blank, or in the wrong range (0..1 read as 0..255).
* **inverted**: the mean of z over the image's border (its outermost rows and columns, which
  are background in most images) compared with the training mean (0) and the inverted
  training mean, z_inv = mean_c (1 − 2μ_c) / σ_c, the mean z of the training images with
  x ↦ 1 − x. The image looks inverted when the border is nearer z_inv than 0, i.e.
  border / z_inv > 1/2. This is checked only when |z_inv| ≥ 1, when the training images are
  darker (or lighter) than mid-grey on average by at least one standard deviation, as
  MNIST-like sets are: a set as light as it is dark (CIFAR-10: |z_inv| ≈ 0.2) cannot tell an
  inverted image by its brightness. On Fashion-MNIST's test set this ratio stays below 0.2 for
  every image and above 0.8 for every inverted one.

A warning is advice: the prediction is still made.
"""

from __future__ import annotations

import numpy as np

from .normalize import Normalizer

#: the largest |mean| and standard deviation of z, and the smallest standard deviation
MEAN_LIMIT, STD_LIMIT, UNIFORM_STD = 4.0, 4.0, 0.05
#: the smallest |z_inv| at which inversion is checked, and the border/z_inv ratio that flags it
INVERSION_CONTRAST, INVERTED_RATIO = 1.0, 0.5


def channel_statistics(normalizer: Normalizer) -> tuple[np.ndarray, np.ndarray]:
    """The training set's mean and standard deviation per channel, shapes (C,): the
    normaliser's own in ``channel`` mode; from its per-pixel ones in ``pixel`` mode
    (μ_c = mean of μ_p, σ_c² = mean of (σ_p² + μ_p²) − μ_c², each pixel's values being equally
    many)."""
    mean, std = np.asarray(normalizer.mean, np.float64), np.asarray(normalizer.std, np.float64)
    if mean.ndim == 1:
        return mean, np.maximum(std, normalizer.min_std)
    channel_mean = mean.mean(axis=(1, 2))
    second = (std**2 + mean**2).mean(axis=(1, 2))
    return channel_mean, np.sqrt(np.maximum(second - channel_mean**2, normalizer.min_std**2))


def input_warnings(images: np.ndarray, normalizer: Normalizer) -> list[str | None]:
    """For each image of ``images`` (N, C, H, W), with values as the training images had them
    (0..255 for 8-bit sets), why it looks unlike the training images, or None."""
    mean, std = channel_statistics(normalizer)
    z = (np.asarray(images, np.float64) * normalizer.scale - mean[:, None, None]) \
        / std[:, None, None]
    inverted_mean = float(((1 - 2 * mean) / std).mean())
    return [_warning(image, inverted_mean) for image in z]


def _warning(z: np.ndarray, inverted_mean: float) -> str | None:
    m, s = float(z.mean()), float(z.std())
    if abs(m) > MEAN_LIMIT or s > STD_LIMIT:
        return (f"values out of the training range (mean {m:+.1f}, spread {s:.1f} in training "
                "standard deviations from the training mean)")
    if s < UNIFORM_STD:
        return (f"almost uniform (spread {s:.3f} of the training images'): blank, or values "
                "in another range than the training images' (0..1 for 0..255?)")
    if abs(inverted_mean) < INVERSION_CONTRAST or min(z.shape[1:]) < 3:
        return None
    border = np.concatenate([z[:, [0, -1], :].ravel(), z[:, 1:-1, [0, -1]].ravel()]).mean()
    if border / inverted_mean > INVERTED_RATIO:
        light, dark = ("light", "dark") if inverted_mean > 0 else ("dark", "light")
        return (f"looks inverted: a {light} background where the training images have a "
                f"{dark} one")
    return None
