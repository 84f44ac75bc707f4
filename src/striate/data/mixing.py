"""Batch mixing: mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018) and
CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
Features", ICCV 2019).

A mixer is a callable ``mix(images, labels, rng) -> (images, MixedLabels)`` that the
:class:`~striate.data.DataLoader` applies to every batch after its ``transform`` (``mix=``), with
the same per-batch generator, so mixing is seeded and resumes exactly like the other
augmentations. Both pair image i with image π(i) of the same batch (π a random permutation) and
draw one λ ~ Beta(α, α) per batch; the loss becomes λ·CE(y) + (1 − λ)·CE(y∘π)
(:func:`mixed_loss`). Both commute with a per-channel normalisation, so they may follow it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..random import resolve_generator


class MixedLabels:
    """The labels of a mixed batch: image i is λ parts an image of class ``a[i]`` and 1 − λ
    parts one of class ``b[i]``.

    As an array (``np.asarray``, ``len``) it is the dominant labels, ``a`` if λ ≥ ½ else ``b``:
    what a training accuracy is counted against.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, lam: float):
        self.a, self.b, self.lam = np.asarray(a), np.asarray(b), float(lam)

    @property
    def dominant(self) -> np.ndarray:
        return self.a if self.lam >= 0.5 else self.b

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.array(self.dominant, dtype=dtype, copy=copy)

    def __len__(self) -> int:
        return len(self.a)

    def __repr__(self) -> str:
        return f"MixedLabels(lam={self.lam:.4f}, n={len(self)})"


def mixed_loss(loss_fn: Callable, logits: Any, labels: np.ndarray | MixedLabels) -> Any:
    """``loss_fn(logits, y)``, or λ·loss_fn(logits, a) + (1 − λ)·loss_fn(logits, b) for
    :class:`MixedLabels` (the cross-entropy of the mixed one-hot targets)."""
    from ..tensor import Tensor

    if not isinstance(labels, MixedLabels):
        return loss_fn(logits, Tensor(labels))
    loss = loss_fn(logits, Tensor(labels.a)) * labels.lam
    if labels.lam == 1.0:  # no term of weight 0 (its backward would still run)
        return loss
    return loss + loss_fn(logits, Tensor(labels.b)) * (1.0 - labels.lam)


def _check_alpha(name: str, alpha: float) -> float:
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"{name}: alpha must be a positive finite number, got {alpha!r}")
    return float(alpha)


def mixup(images: np.ndarray, labels: np.ndarray, lam: float, order: np.ndarray
          ) -> tuple[np.ndarray, MixedLabels]:
    """x̃ = λ·x + (1 − λ)·x[π], labels (y, y[π], λ); ``order`` = π."""
    mixed = images * lam + images[order] * (1 - lam)
    return mixed.astype(images.dtype, copy=False), MixedLabels(labels, labels[order], lam)


def cutmix(images: np.ndarray, labels: np.ndarray, box: tuple[int, int, int, int],
           order: np.ndarray) -> tuple[np.ndarray, MixedLabels]:
    """Paste the box (top, bottom, left, right) of image π(i) into image i; λ = 1 − box
    area / image area, labels (y, y[π], λ)."""
    top, bottom, left, right = box
    out = images.copy()
    out[:, :, top:bottom, left:right] = images[order, :, top:bottom, left:right]
    h, w = images.shape[2:]
    lam = 1 - (bottom - top) * (right - left) / (h * w)
    return out, MixedLabels(labels, labels[order], lam)


class Mixup:
    """Mix each image with another of the batch: λ ~ Beta(α, α) per batch (:func:`mixup`)."""

    def __init__(self, alpha: float = 0.2, generator: np.random.Generator | None = None):
        self.alpha = _check_alpha("Mixup", alpha)
        self.generator = generator

    def __call__(self, images: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, MixedLabels]:
        rng = rng if rng is not None else resolve_generator(self.generator)
        lam = float(rng.beta(self.alpha, self.alpha))
        return mixup(images, labels, lam, rng.permutation(len(images)))

    def __repr__(self) -> str:
        return f"Mixup(alpha={self.alpha})"


class CutMix:
    """Paste a box of another image of the batch into each image (:func:`cutmix`), Yun et al.'s
    box: λ ~ Beta(α, α) per batch, sides ⌊H·√(1 − λ)⌋ × ⌊W·√(1 − λ)⌋ about a uniform centre,
    clipped to the image (λ is then recomputed from the clipped box's area)."""

    def __init__(self, alpha: float = 1.0, generator: np.random.Generator | None = None):
        self.alpha = _check_alpha("CutMix", alpha)
        self.generator = generator

    def box(self, shape: tuple[int, ...], rng: np.random.Generator
            ) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of one batch's box."""
        h, w = shape[2:]
        cut = math.sqrt(1 - float(rng.beta(self.alpha, self.alpha)))
        ch, cw = int(h * cut), int(w * cut)
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        return (min(max(cy - ch // 2, 0), h), min(max(cy + ch // 2, 0), h),
                min(max(cx - cw // 2, 0), w), min(max(cx + cw // 2, 0), w))

    def __call__(self, images: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, MixedLabels]:
        rng = rng if rng is not None else resolve_generator(self.generator)
        box = self.box(images.shape, rng)
        return cutmix(images, labels, box, rng.permutation(len(images)))

    def __repr__(self) -> str:
        return f"CutMix(alpha={self.alpha})"


class RandomMix:
    """One of ``mixers`` per batch, chosen uniformly (mixup or CutMix, as timm alternates)."""

    def __init__(self, mixers: Sequence[Callable]):
        if not mixers:
            raise ValueError("RandomMix: give at least one mixer")
        self.mixers = list(mixers)

    def __call__(self, images: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, MixedLabels]:
        rng = rng if rng is not None else resolve_generator(None)
        return self.mixers[int(rng.integers(len(self.mixers)))](images, labels, rng)

    def __repr__(self) -> str:
        return f"RandomMix({self.mixers!r})"
