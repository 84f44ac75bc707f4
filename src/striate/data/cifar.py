"""CIFAR-10 and CIFAR-100 from their "python version" pickle batches.

Folders as the official archives unpack them: ``cifar-10-batches-py/`` (``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``) and ``cifar-100-python/`` (``train``,
``test``, ``meta``). The pickles are read with :mod:`striate.data.safe_pickle` (no code can run)
and their content is checked. Images come back as ``uint8 (N, 3, 32, 32)``, labels ``int64``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import ArrayDataset
from .download import download as _download_file
from .download import extract_tar
from .errors import DatasetError
from .locate import candidate_dirs, describe_search, download_dir, find_files
from .safe_pickle import load_pickle

_SIDE = 32
_PIXELS = 3 * _SIDE * _SIDE


@dataclass(frozen=True)
class CifarSpec:
    name: str  # folder under data roots / the cache
    title: str
    top: str  # folder the archive unpacks to
    files: dict[str, tuple[str, ...]]  # split -> batch files
    meta: str
    url: str
    md5: str  # of the .tar.gz archive


CIFAR10 = CifarSpec(
    name="cifar10",
    title="CIFAR-10",
    top="cifar-10-batches-py",
    files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    meta="batches.meta",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
)
CIFAR100 = CifarSpec(
    name="cifar100",
    title="CIFAR-100",
    top="cifar-100-python",
    files={"train": ("train",), "test": ("test",)},
    meta="meta",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
)


def cifar10(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> ArrayDataset:
    """CIFAR-10: 50,000 train / 10,000 test 32×32 colour images of 10 classes."""
    return load_cifar(CIFAR10, split, data_dir, download, "labels", "label_names")


def cifar100(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    label_mode: str = "fine",
) -> ArrayDataset:
    """CIFAR-100: 50,000 train / 10,000 test 32×32 colour images of 100 classes.

    ``label_mode`` 'fine' gives the 100 classes, 'coarse' their 20 superclasses.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100: label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    return load_cifar(
        CIFAR100, split, data_dir, download, f"{label_mode}_labels", f"{label_mode}_label_names"
    )


def load_cifar(
    spec: CifarSpec,
    split: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    labels_key: str,
    names_key: str,
) -> ArrayDataset:
    """Find (or download and unpack), read and check one split of a CIFAR dataset."""
    if split not in spec.files:
        raise ValueError(f"{spec.title}: split must be one of {sorted(spec.files)}, got {split!r}")
    wanted = (*spec.files[split], spec.meta)
    dirs, paths = locate_cifar(spec, split, data_dir)
    if paths is None:
        if not download:
            raise _not_found(spec, dirs, wanted, data_dir, "download=False, so nothing was fetched")
        try:
            folder = _fetch(spec, download_dir(spec.name, data_dir))
        except DatasetError as exc:
            raise _not_found(spec, dirs, wanted, data_dir, f"the download failed: {exc}") from exc
        paths = find_files([folder], wanted)
        if paths is None:
            raise DatasetError(
                f"{spec.title} archive from {spec.url} unpacked to {folder} lacks some of "
                f"{', '.join(wanted)}; delete {folder} and try again"
            )
    classes = _class_names(paths[-1], names_key)
    images, labels = [], []
    for path in paths[:-1]:
        x, y = _read_batch(path, labels_key, len(classes))
        images.append(x)
        labels.append(y)
    images_all = images[0] if len(images) == 1 else np.concatenate(images)
    labels_all = labels[0] if len(labels) == 1 else np.concatenate(labels)
    return ArrayDataset(images_all, labels_all, classes)


def locate_cifar(
    spec: CifarSpec, split: str, data_dir: str | os.PathLike | None
) -> tuple[list[Path], list[Path] | None]:
    """The folders searched for one split of ``spec`` (in order) and the paths of its batch
    files and meta file in the first that holds them all, or None, without reading them."""
    dirs = [d for c in candidate_dirs(spec.name, data_dir) for d in (c / spec.top, c)]
    return dirs, find_files(dirs, (*spec.files[split], spec.meta))


def how_to_get(spec: CifarSpec, data_dir: str | os.PathLike | None) -> list[str]:
    """The ways to get ``spec``, in words, for messages and ``striate datasets``."""
    return [
        f"download {spec.url}, unpack it, and pass --data-dir FOLDER (data_dir=FOLDER in "
        f"Python) or set STRIATE_DATA=FOLDER, FOLDER holding {spec.top}/",
        f"on a machine with network access, download=True fetches it into "
        f"{download_dir(spec.name, data_dir)}",
    ]


def _fetch(spec: CifarSpec, target: Path) -> Path:
    archive = target / spec.url.rsplit("/", 1)[-1]
    _download_file(spec.url, archive, md5=spec.md5)
    folder = extract_tar(archive, target, spec.top)
    archive.unlink()  # the unpacked folder is what is read; keep the disk use single
    return folder


def _as_str_keys(obj: Any, path: Path) -> dict[str, Any]:
    """Python 2 pickles give bytes keys under encoding='bytes'; use str keys either way."""
    if not isinstance(obj, dict):
        raise DatasetError(
            f"CIFAR file {os.fspath(path)!r} holds a {type(obj).__name__}, expected a dict; "
            "it is not a CIFAR batch: delete it and download it again"
        )
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _class_names(path: Path, key: str) -> list[str]:
    meta = _as_str_keys(load_pickle(path), path)
    names = meta.get(key)
    if not isinstance(names, list) or not names:
        raise DatasetError(
            f"CIFAR meta file {os.fspath(path)!r} has no list {key!r}; "
            "delete it and download the dataset again"
        )
    return [n.decode("latin-1") if isinstance(n, bytes) else str(n) for n in names]


def _read_batch(path: Path, labels_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _as_str_keys(load_pickle(path), path)
    data, labels = batch.get("data"), batch.get(labels_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != _PIXELS:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(
            f"CIFAR file {os.fspath(path)!r}: 'data' must be a uint8 array of shape "
            f"(N, {_PIXELS}), got {got}; delete it and download the dataset again"
        )
    try:
        y = np.asarray(labels)  # no dtype=: that would truncate floats and overflow on huge ints
    except (TypeError, ValueError):  # ragged lists
        y = None
    if y is None or y.shape != (data.shape[0],) or (y.size and (
            y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= num_classes)):
        raise DatasetError(
            f"CIFAR file {os.fspath(path)!r}: {labels_key!r} must be {data.shape[0]} class "
            f"indices in [0, {num_classes}); delete it and download the dataset again"
        )
    return data.reshape(-1, 3, _SIDE, _SIDE), y.astype(np.int64)


def _not_found(spec: CifarSpec, dirs, wanted, data_dir, reason: str) -> DatasetError:
    how = "\n".join(f"  - {w}" for w in how_to_get(spec, data_dir))
    return DatasetError(
        f"{spec.title} not found: {describe_search(dirs, wanted)}\n{reason}.\nTo get it:\n{how}"
    )
