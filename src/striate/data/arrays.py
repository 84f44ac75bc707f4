"""``ArrayDataset``: images and labels held as two NumPy arrays.

Every in-memory dataset of the package is one of these. Images are ``(N, C, H, W)`` in any
dtype (the built-in datasets keep ``uint8``, four times smaller than float32; the loader's
transform turns batches into float32); labels are ``int64`` of shape ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ArrayDataset:
    """A labelled image dataset in memory.

    ``dataset[i]`` is ``(image (C, H, W), label int)``; ``dataset.batch(indices)`` is
    ``(images (B, C, H, W), labels (B,))`` gathered in one indexing operation, which is what
    :class:`~striate.data.DataLoader` uses.
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, classes: Sequence[str] | None = None
    ):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim != 4:
            hint = " (add a channel axis: images[:, None])" if images.ndim == 3 else ""
            raise ValueError(
                f"ArrayDataset: images must have shape (N, C, H, W), got shape "
                f"{images.shape}{hint}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"ArrayDataset: labels must have shape ({images.shape[0]},) to match images "
                f"{images.shape}, got shape {labels.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise TypeError(
                f"ArrayDataset: labels must be integers (class indices), got dtype {labels.dtype}"
            )
        labels = labels.astype(np.int64, copy=False)
        if labels.size and labels.min() < 0:
            raise ValueError(f"ArrayDataset: labels must be >= 0, got min {labels.min()}")
        if classes is not None:
            classes = [str(c) for c in classes]
            if labels.size and labels.max() >= len(classes):
                raise ValueError(
                    f"ArrayDataset: label {labels.max()} out of range for {len(classes)} classes"
                )
        self.images = images
        self.labels = labels
        self.classes = classes

    @property
    def num_classes(self) -> int:
        """``len(classes)`` if known, else one more than the largest label."""
        if self.classes is not None:
            return len(self.classes)
        return int(self.labels.max()) + 1 if self.labels.size else 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[index], int(self.labels[index])

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels at ``indices``: copies for an integer array, views for a slice."""
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        return (
            f"ArrayDataset(n={len(self)}, image_shape={self.image_shape}, "
            f"dtype={self.images.dtype}, num_classes={self.num_classes})"
        )


def fetch_batch(dataset: Any, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` at ``indices`` from any dataset.

    Uses ``dataset.batch(indices)`` when the dataset has it (one gather for arrays), else stacks
    ``dataset[i]`` items, which is what a plain ``(image, label)`` sequence offers.
    """
    batch = getattr(dataset, "batch", None)
    if batch is not None:
        return batch(indices)
    items = [dataset[int(i)] for i in indices]
    if not items:
        raise ValueError("fetch_batch: empty batch")
    images = np.stack([np.asarray(x) for x, _ in items])
    return images, np.array([int(y) for _, y in items], dtype=np.int64)
