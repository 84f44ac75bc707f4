"""The IDX-format datasets: Fashion-MNIST, MNIST, KMNIST and EMNIST.

Each loader returns an :class:`ArrayDataset` with ``uint8`` images of shape ``(N, 1, 28, 28)``
(pixel values 0..255, as stored; a :class:`~striate.data.Normalizer` in the loader makes float32
batches, which keeps the training set at 47 MB instead of 188 MB), ``int64`` labels and the class
names. Files are found as described in :mod:`striate.data.locate`, downloaded when missing and
allowed, and checked: strict IDX structure always, and for Fashion-MNIST the SHA-256 of the
decompressed content on every read (hashing costs about 0.03 s next to 0.3 s of decompression
for the training images, so it is not worth caching).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .arrays import ArrayDataset
from .download import download as _download_file
from .download import extract_zip_members
from .errors import DatasetError
from .idx import read_idx
from .locate import candidate_dirs, describe_search, download_dir, find_files

SPLITS = ("train", "test")
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@dataclass(frozen=True)
class IdxSpec:
    """Where an IDX dataset comes from and how to check it."""

    name: str  # folder name under data roots and the cache, e.g. "fashion-mnist"
    title: str  # for messages
    files: dict[str, tuple[str, str]]  # split -> (images file, labels file)
    base_url: str
    classes: tuple[str, ...]
    # SHA-256 of the decompressed files; None where no verified value is known.
    sha256: dict[str, str | None] = field(default_factory=dict)
    system_dirs: tuple[str, ...] = ()
    how_to_get: str = ""
    archive: str | None = None  # files come inside this zip at base_url (EMNIST)
    archive_dir: str = ""  # folder of the files inside the archive
    transposed: bool = False  # EMNIST stores images column-major


DATASETS: dict[str, IdxSpec] = {
    "fashion-mnist": IdxSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        files=_MNIST_FILES,
        base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        classes=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        sha256={
            "train-images-idx3-ubyte.gz":
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz":
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz":
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz":
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        how_to_get="on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist",
    ),
    # No SHA-256 verified on this project's machines yet: the IDX structure is still checked
    # strictly. Fill these in from a trusted copy rather than guessing.
    "mnist": IdxSpec(
        name="mnist",
        title="MNIST",
        files=_MNIST_FILES,
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        classes=tuple(str(d) for d in range(10)),
        sha256={f: None for pair in _MNIST_FILES.values() for f in pair},
    ),
    "kmnist": IdxSpec(
        name="kmnist",
        title="Kuzushiji-MNIST",
        files=_MNIST_FILES,
        base_url="http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        sha256={f: None for pair in _MNIST_FILES.values() for f in pair},
    ),
}

_DIGITS = tuple("0123456789")
_UPPER = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = tuple("abcdefghijklmnopqrstuvwxyz")
_MERGED = _DIGITS + _UPPER + tuple("abdefghnqrt")  # 47 classes: similar-looking cases merged
EMNIST_CLASSES: dict[str, tuple[str, ...]] = {
    "byclass": _DIGITS + _UPPER + _LOWER,
    "bymerge": _MERGED,
    "balanced": _MERGED,
    "letters": ("N/A",) + _LOWER,  # labels 1..26; 0 is unused
    "digits": _DIGITS,
    "mnist": _DIGITS,
}


def emnist_spec(subset: str) -> IdxSpec:
    """The :class:`IdxSpec` of one EMNIST subset (files come from NIST's ``gzip.zip``)."""
    if subset not in EMNIST_CLASSES:
        raise ValueError(
            f"emnist: subset must be one of {sorted(EMNIST_CLASSES)}, got {subset!r}"
        )
    files = {
        split: (
            f"emnist-{subset}-{split}-images-idx3-ubyte.gz",
            f"emnist-{subset}-{split}-labels-idx1-ubyte.gz",
        )
        for split in SPLITS
    }
    return IdxSpec(
        name="emnist",
        title=f"EMNIST-{subset}",
        files=files,
        base_url="https://biometrics.nist.gov/cs_links/EMNIST/",
        classes=EMNIST_CLASSES[subset],
        archive="gzip.zip",
        archive_dir="gzip/",
        transposed=True,
    )


def fashion_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> ArrayDataset:
    """Fashion-MNIST (Zalando): 60,000 train / 10,000 test 28×28 grey images of 10 clothes."""
    return load_idx_dataset(DATASETS["fashion-mnist"], split, data_dir, download)


def mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> ArrayDataset:
    """MNIST handwritten digits: 60,000 train / 10,000 test 28×28 grey images."""
    return load_idx_dataset(DATASETS["mnist"], split, data_dir, download)


def kmnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> ArrayDataset:
    """Kuzushiji-MNIST: 60,000 train / 10,000 test 28×28 images of 10 cursive hiragana."""
    return load_idx_dataset(DATASETS["kmnist"], split, data_dir, download)


def emnist(
    split: str = "train",
    subset: str = "balanced",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> ArrayDataset:
    """EMNIST: handwritten digits and letters; ``subset`` is one of :data:`EMNIST_CLASSES`.

    Images are transposed on load into the usual (row-major, upright) orientation.
    """
    return load_idx_dataset(emnist_spec(subset), split, data_dir, download)


def load_idx_dataset(
    spec: IdxSpec, split: str, data_dir: str | os.PathLike | None, download: bool
) -> ArrayDataset:
    """Find (or download), read and check one split of an IDX dataset."""
    if split not in spec.files:
        raise ValueError(f"{spec.title}: split must be one of {sorted(spec.files)}, got {split!r}")
    files = spec.files[split]
    dirs, paths = locate_idx(spec, split, data_dir)
    if paths is None:
        if not download:
            raise _not_found(spec, split, dirs, data_dir, "download=False, so nothing was fetched")
        try:
            paths = _fetch(spec, files, download_dir(spec.name, data_dir))
        except DatasetError as exc:
            raise _not_found(spec, split, dirs, data_dir, f"the download failed: {exc}") from exc
    images = read_idx(paths[0], spec.sha256.get(files[0]))
    labels = read_idx(paths[1], spec.sha256.get(files[1]))
    _check_pair(spec, paths, images, labels)
    if spec.transposed:
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    return ArrayDataset(images[:, None], labels.astype(np.int64), spec.classes)


def locate_idx(
    spec: IdxSpec, split: str, data_dir: str | os.PathLike | None
) -> tuple[list[Path], list[Path] | None]:
    """The folders searched for one split of ``spec`` (in order) and the paths of its files in
    the first that holds them all, or None: where it is, without reading it."""
    dirs = candidate_dirs(spec.name, data_dir, spec.system_dirs)
    return dirs, find_files(dirs, spec.files[split])


def how_to_get(spec: IdxSpec, data_dir: str | os.PathLike | None) -> list[str]:
    """The ways to get ``spec``'s files, in words, for messages and ``striate datasets``."""
    source = spec.base_url + (spec.archive or "")
    ways = [spec.how_to_get] if spec.how_to_get else []
    return ways + [
        "put the files in a folder and pass --data-dir FOLDER (data_dir=FOLDER in Python) "
        "or set STRIATE_DATA=FOLDER",
        f"on a machine with network access, download=True fetches them from {source} "
        f"into {download_dir(spec.name, data_dir)}",
    ]


def _fetch(spec: IdxSpec, files: tuple[str, ...], target: Path) -> list[Path]:
    """Download ``files`` of ``spec`` into ``target``; their paths.

    Each file is checked (structure, and SHA-256 where known) before it is renamed into place.
    Files unpacked from an archive (EMNIST) are checked when they are read right after.
    """
    if spec.archive is not None:
        archive = target / spec.archive
        if not archive.is_file():
            _download_file(spec.base_url + spec.archive, archive)
        extract_zip_members(archive, {spec.archive_dir + f: target / f for f in files})
        return [target / f for f in files]
    return [
        _download_file(
            spec.base_url + f, target / f, verify=lambda tmp, f=f: read_idx(tmp, spec.sha256.get(f))
        )
        for f in files
    ]


def _check_pair(spec: IdxSpec, paths: list[Path], images: np.ndarray, labels: np.ndarray):
    """The images file holds (N, H, W) uint8 and the labels file N valid class indices."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(
            f"{spec.title} images file {os.fspath(paths[0])!r} holds {images.dtype.name} data of "
            f"shape {images.shape}, expected uint8 (N, H, W); it is not this dataset's file"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8 or labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{spec.title} labels file {os.fspath(paths[1])!r} holds {labels.dtype.name} data of "
            f"shape {labels.shape}, expected uint8 ({images.shape[0]},) to match the images "
            f"file {os.fspath(paths[0])!r}"
        )
    if labels.size and labels.max() >= len(spec.classes):
        raise DatasetError(
            f"{spec.title} labels file {os.fspath(paths[1])!r} has label {labels.max()} but the "
            f"dataset has {len(spec.classes)} classes; the file is corrupt or from another dataset"
        )


def _not_found(
    spec: IdxSpec, split: str, dirs: list[Path], data_dir, reason: str
) -> DatasetError:
    how = "\n".join(f"  - {w}" for w in how_to_get(spec, data_dir))
    return DatasetError(
        f"{spec.title} ({split} split) not found: "
        f"{describe_search(dirs, spec.files[split])}\n{reason}.\nTo get it:\n{how}"
    )
