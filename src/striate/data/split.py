"""Splitting a dataset into disjoint random parts (train/validation)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from .arrays import fetch_batch


class Subset:
    """The items of ``dataset`` at ``indices``, in that order (no data is copied)."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        n = len(dataset)
        if self.indices.ndim != 1 or (
            self.indices.size and (self.indices.min() < -n or self.indices.max() >= n)
        ):
            raise ValueError(f"Subset: indices must be a 1-D array of indices into {n} items")

    @property
    def classes(self):
        return getattr(self.dataset, "classes", None)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.dataset.labels)[self.indices]

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the parent's images (all items share it)."""
        return self.dataset.image_shape

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[index])]

    def batch(self, indices: np.ndarray):
        """The parent's batch at the mapped indices."""
        return fetch_batch(self.dataset, self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset(n={len(self)}, of={self.dataset!r})"


def _lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Integer part sizes from sizes or fractions; fractions' remainders go round-robin."""
    if not lengths or any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {list(lengths)}")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {list(lengths)} sum to {sum(lengths)}, "
                f"but the dataset has {n} items"
            )
        return [int(x) for x in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions {list(lengths)} must sum to 1")
    sizes = [math.floor(n * f) for f in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(
    dataset: Any,
    lengths: Sequence[float],
    seed: int | np.random.Generator = 0,
) -> list[Subset]:
    """Split ``dataset`` into disjoint random :class:`Subset` s (each in ascending index order).

    ``lengths`` are item counts summing to ``len(dataset)``, or fractions summing to 1 (as
    PyTorch's ``random_split``). The same ``seed`` always gives the same split.
    """
    sizes = _lengths(len(dataset), lengths)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    order = rng.permutation(len(dataset))
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, np.sort(order[a:b])) for a, b in pairwise(bounds)]


def train_val_split(
    dataset: Any, val_fraction: float = 0.1, seed: int | np.random.Generator = 0
) -> tuple[Subset, Subset]:
    """``(train, val)`` with ``round(val_fraction * len(dataset))`` items in ``val``."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), got {val_fraction}")
    n_val = round(val_fraction * len(dataset))
    train, val = random_split(dataset, [len(dataset) - n_val, n_val], seed)
    return train, val
