"""What ``striate datasets`` shows: each named dataset, whether its files are on this machine,
in which folder, and how to get it where they are not.

The folders are searched exactly as the loaders search them (:mod:`striate.data.locate`), and
nothing is read: a dataset is installed when the files of both its splits are found.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import cifar
from .locate import download_dir
from .mnist import (
    DATASETS,
    EMNIST_CLASSES,
    IdxSpec,
    emnist_spec,
    fashion_mnist,
    kmnist,
    locate_idx,
    mnist,
)
from .mnist import how_to_get as idx_how_to_get


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset as ``striate datasets`` lists it."""

    name: str                     # the --dataset value
    title: str
    about: str                    # one line: sizes and contents
    installed: bool
    folder: Path | None           # where the training files were found
    searched: tuple[Path, ...]    # the folders looked in, in order
    how_to_get: tuple[str, ...]   # the ways to get it, in words
    source: str                   # what a download fetches
    download_to: Path             # where a download goes
    system_package: str           # how an OS package installs it, in words ("" if none)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "title": self.title, "about": self.about,
                "installed": self.installed,
                "folder": None if self.folder is None else str(self.folder),
                "searched": [str(d) for d in self.searched],
                "how_to_get": list(self.how_to_get), "source": self.source,
                "download_to": str(self.download_to), "system_package": self.system_package}


Locate = Callable[[str], tuple[list[Path], list[Path] | None]]


def _entry(name: str, title: str, about: str, locate: Locate, ways: list[str], source: str,
           download_to: Path, system_package: str = "") -> DatasetInfo:
    searched, train = locate("train")
    test = locate("test")[1]
    installed = train is not None and test is not None
    return DatasetInfo(name=name, title=title, about=about, installed=installed,
                       folder=train[0].parent if installed and train else None,
                       searched=tuple(searched), how_to_get=tuple(ways), source=source,
                       download_to=download_to, system_package=system_package)


def _idx_entry(name: str, spec: IdxSpec, about: str,
               data_dir: str | os.PathLike | None) -> DatasetInfo:
    return _entry(name, spec.title, about,
                  lambda split: locate_idx(spec, split, data_dir),
                  idx_how_to_get(spec, data_dir), spec.base_url + (spec.archive or ""),
                  download_dir(spec.name, data_dir), spec.how_to_get)


def _first_line(function: Callable) -> str:
    return (function.__doc__ or "").strip().splitlines()[0]


def catalog(data_dir: str | os.PathLike | None = None) -> list[DatasetInfo]:
    """Every dataset :func:`striate.data.get_dataset` knows by name (each EMNIST subset apart),
    looked for as ``get_dataset(name, data_dir=data_dir)`` would look."""
    entries = []
    for key, loader in (("fashion-mnist", fashion_mnist), ("mnist", mnist),
                        ("kmnist", kmnist)):
        spec = DATASETS[key]
        entries.append(_idx_entry(key, spec, _first_line(loader), data_dir))
    for subset, classes in EMNIST_CLASSES.items():
        spec = emnist_spec(subset)
        about = f"EMNIST {subset}: 28×28 handwritten characters of {len(classes)} classes"
        entries.append(_idx_entry(f"emnist-{subset}", spec, about, data_dir))
    for spec, loader in ((cifar.CIFAR10, cifar.cifar10), (cifar.CIFAR100, cifar.cifar100)):
        entries.append(_entry(spec.name, spec.title, _first_line(loader),
                              lambda split, s=spec: cifar.locate_cifar(s, split, data_dir),
                              cifar.how_to_get(spec, data_dir), spec.url,
                              download_dir(spec.name, data_dir)))
    return entries
