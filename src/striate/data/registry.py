"""``get_dataset``: one entry point from a dataset name (or an image-folder path) to a dataset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cifar import cifar10, cifar100
from .errors import DatasetError
from .folder import ImageFolder
from .mnist import EMNIST_CLASSES, emnist, fashion_mnist, kmnist, mnist

LOADERS: dict[str, Callable[..., Any]] = {
    "fashion-mnist": fashion_mnist,
    "mnist": mnist,
    "kmnist": kmnist,
    "emnist": emnist,
    "cifar10": cifar10,
    "cifar100": cifar100,
}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist",
            "cifar-10": "cifar10", "cifar-100": "cifar100"}


def dataset_names() -> list[str]:
    """The names :func:`get_dataset` knows (``emnist-<subset>`` included)."""
    return [*LOADERS, *(f"emnist-{s}" for s in EMNIST_CLASSES)]


def get_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    **kwargs: Any,
) -> Any:
    """The ``split`` of dataset ``name``.

    ``name`` is one of :func:`dataset_names` (case-insensitive; ``emnist-letters`` selects an
    EMNIST subset), or the path of an image folder (one sub-folder per class). For a folder,
    ``<path>/<split>`` is used when it exists, else ``<path>`` itself. ``kwargs`` go to the
    loader (e.g. ``label_mode="coarse"`` for CIFAR-100, ``mode="L"`` for a folder).
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key.startswith("emnist-"):
        kwargs.setdefault("subset", key.removeprefix("emnist-"))
        key = "emnist"
    if key in LOADERS:
        return LOADERS[key](split, data_dir=data_dir, download=download, **kwargs)
    path = Path(name)
    if path.is_dir():
        return ImageFolder(path / split if (path / split).is_dir() else path, **kwargs)
    raise DatasetError(
        f"unknown dataset {name!r}: expected one of {', '.join(dataset_names())}, or the path "
        "of a folder of images with one sub-folder per class"
    )
