"""``ImageFolder``: a dataset read from a folder with one sub-folder of images per class.

::

    root/cat/001.png
    root/cat/002.jpg
    root/dog/a.jpeg

Class names are the sorted sub-folder names; label ``i`` is ``classes[i]``. Images (PNG and
JPEG) are decoded with Pillow, imported only here and only when needed, into ``uint8 (C, H, W)``
arrays. All images of a batch must have one size unless ``size`` resizes them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .arrays import ArrayDataset
from .errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_MODES = {"L": "L", "RGB": "RGB", None: None}


def _pillow():
    try:
        from PIL import Image
    except ImportError as exc:
        raise DatasetError(
            "ImageFolder needs Pillow to decode PNG/JPEG files: pip install pillow "
            "(or apt-get install python3-pil)"
        ) from exc
    return Image


class ImageFolder:
    """Images under ``root/<class>/``, decoded lazily.

    Args:
        root: the folder holding one sub-folder per class.
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels), or None to take ``"L"`` if the first
            image is grey-scale and ``"RGB"`` otherwise.
        size: optional ``(height, width)`` every image is resized to (bilinear).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        mode: str | None = None,
        size: tuple[int, int] | None = None,
    ):
        if mode not in _MODES:
            raise ValueError(f"ImageFolder: mode must be 'L', 'RGB' or None, got {mode!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"ImageFolder: {os.fspath(root)!r} is not a folder")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        if not self.classes:
            raise DatasetError(
                f"ImageFolder: {os.fspath(root)!r} has no sub-folders; put the images of each "
                "class in a sub-folder named after the class"
            )
        self.samples: list[tuple[Path, int]] = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in sorted((self.root / name).rglob("*"))
            if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
        ]
        if not self.samples:
            raise DatasetError(
                f"ImageFolder: no {'/'.join(IMAGE_EXTENSIONS)} files under "
                f"{os.fspath(root)!r}/<class>/"
            )
        self.size = size
        self.mode = mode or self._guess_mode()

    @property
    def labels(self) -> np.ndarray:
        return np.array([label for _, label in self.samples], dtype=np.int64)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _guess_mode(self) -> str:
        with _pillow().open(self.samples[0][0]) as img:
            return "L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"

    def _load(self, path: Path) -> np.ndarray:
        Image = _pillow()
        try:
            with Image.open(path) as img:
                img = img.convert(self.mode)
                if self.size is not None:
                    img = img.resize((self.size[1], self.size[0]), Image.BILINEAR)
                array = np.asarray(img, dtype=np.uint8)
        except OSError as exc:
            raise DatasetError(f"ImageFolder: cannot decode image {os.fspath(path)!r}: {exc}") \
                from exc
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        return self._load(path), label

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode the images at ``indices`` into one ``(B, C, H, W)`` uint8 array."""
        chosen = [self.samples[int(i)] for i in np.arange(len(self))[indices]]
        arrays = [self._load(path) for path, _ in chosen]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise DatasetError(
                f"ImageFolder: images under {os.fspath(self.root)!r} have different sizes "
                f"{sorted(shapes)}; pass size=(height, width) to resize them"
            )
        labels = np.array([label for _, label in chosen], dtype=np.int64)
        return np.stack(arrays) if arrays else np.empty((0, 0, 0, 0), np.uint8), labels

    def load(self) -> ArrayDataset:
        """Decode every image once into an in-memory :class:`ArrayDataset`."""
        images, labels = self.batch(np.arange(len(self)))
        return ArrayDataset(images, labels, self.classes)

    def __repr__(self) -> str:
        return f"ImageFolder({os.fspath(self.root)!r}, n={len(self)}, classes={len(self.classes)})"
