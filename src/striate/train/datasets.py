"""The data of a run: its train, validation and test sets, from a named dataset or an image folder.

An image folder is ``ROOT/<class>/*`` or ``ROOT/train/<class>/*`` with ``ROOT/test/<class>/*``.
A folder without ``test/`` gets a held-out test set, a seeded random ``test_fraction`` of its
images, so the test accuracy is never measured on training images; ``striate evaluate`` draws the
same split again from the run's configuration.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DatasetError, ImageFolder, Subset, get_dataset, random_split
from ..errors import UserError
from .config import TrainConfig, validation_size

IN_MEMORY_BYTES = 2**30  # decode a folder into memory once when it fits in this many bytes


def is_image_folder(name: str) -> bool:
    """Whether a ``--dataset`` value names a folder of images rather than a known dataset."""
    from ..data import dataset_names

    return name.lower() not in dataset_names() and Path(name).expanduser().is_dir()


def settled(config: TrainConfig) -> TrainConfig:
    """``config`` with an image folder's path made absolute (so that ``evaluate`` finds it from
    any working folder) and its channels fixed by the training images (so that the test images,
    and later evaluations, are read the same way)."""
    if not is_image_folder(config.dataset):
        return config
    config = dataclasses.replace(config, dataset=str(Path(config.dataset).expanduser().resolve()))
    if config.channels is None:
        try:
            folder = ImageFolder(_training_root(config.dataset), skip_bad=config.skip_bad_images)
        except DatasetError as e:
            raise UserError(str(e)) from None
        config = dataclasses.replace(config, channels=folder.channels)
    return config


def held_out(config: TrainConfig) -> bool:
    """Whether the run's test set is a held-out part of its training folder."""
    return is_image_folder(config.dataset) and not _split_dir(config.dataset, "test").is_dir()


def open_split(config: TrainConfig, split: str) -> Any:
    """The ``split`` ("train" or "test") of the run's dataset, as the run saw it."""
    if held_out(config):
        return _held_out_splits(config)[split == "test"]
    try:
        if not is_image_folder(config.dataset):
            return get_dataset(config.dataset, split, data_dir=config.data_dir)
        if not _split_dir(config.dataset, "train").is_dir():
            raise UserError(f"{config.dataset} has a test/ folder but no train/ folder; put "
                            "the training images in train/<class>/")
        return _folder(config, _split_dir(config.dataset, split))
    except DatasetError as e:
        raise UserError(str(e)) from None


def _held_out_splits(config: TrainConfig) -> tuple[Any, Any]:
    """(train, test) of a folder without test/: its images read once, then split, seeded."""
    try:
        whole = _folder(config, _training_root(config.dataset))
    except DatasetError as e:
        raise UserError(str(e)) from None
    n_test = max(1, round(config.test_fraction * len(whole)))
    if len(whole) - n_test < 1:
        raise UserError(f"{config.dataset} has {len(whole)} images: too few to hold out a "
                        "test set; add images or a test/ folder")
    train, test = random_split(whole, [len(whole) - n_test, n_test], seed=config.seed)
    return train, test


def load_data(config: TrainConfig) -> tuple[Any, Any | None, Any]:
    """(train, validation or None, test), cut to ``config.limit`` training examples when asked."""
    train, test = (_held_out_splits(config) if held_out(config)
                   else (open_split(config, "train"), open_split(config, "test")))
    if list(train.classes or []) != list(test.classes or []) and train.classes is not None:
        raise UserError(f"{config.dataset}: the test set's classes {list(test.classes)} differ "
                        f"from the training set's {list(train.classes)}")
    if config.limit is not None:
        train = Subset(train, np.arange(min(config.limit, len(train))))
        test = Subset(test, np.arange(min(max(config.limit // 5, 1), len(test))))
    val = None
    n_val = validation_size(len(train), config.val_fraction)
    if n_val:
        train, val = random_split(train, [len(train) - n_val, n_val], seed=config.seed)
    return train, val, test


def describe_test_set(config: TrainConfig, test: Any) -> str:
    """How the test set was made, for the output and the report."""
    if held_out(config):
        return (f"test set: {len(test)} images held out from {config.dataset} "
                f"({config.test_fraction:.0%}, seed {config.seed}; it has no test/ folder)")
    return f"test set: {len(test)} images"


def _split_dir(root: str, split: str) -> Path:
    return Path(root).expanduser() / split


def _training_root(root: str) -> Path:
    train = _split_dir(root, "train")
    return train if train.is_dir() else Path(root).expanduser()


def _folder(config: TrainConfig, root: Path) -> Any:
    size = None if config.image_size is None else (config.image_size, config.image_size)
    mode = {None: None, 1: "L", 3: "RGB"}[config.channels]
    folder = ImageFolder(root, mode=mode, size=size, skip_bad=config.skip_bad_images)
    if folder.skipped:
        print(f"skipped {len(folder.skipped)} unreadable image(s) under {root}, e.g. "
              f"{folder.skipped[0][0]} ({folder.skipped[0][1]})")
    channels, height, width = folder.image_shape
    if height != width:
        raise UserError(f"{root}: images are {height}x{width}, and the models take square "
                        "inputs; pass --image-size N to resize them")
    if len(folder) * channels * height * width <= IN_MEMORY_BYTES:
        return folder.load()
    return folder

