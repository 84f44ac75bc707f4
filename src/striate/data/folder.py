"""``ImageFolder``: a dataset read from a folder with one sub-folder of images per class.

::

    root/cat/001.png
    root/cat/holiday/002.jpg      (folders inside a class folder are searched too)
    root/dog/a.jpeg

Class names are the sorted sub-folder names; label ``i`` is ``classes[i]``. Images (PNG, JPEG,
BMP, GIF, WebP, TIFF; the content decides, not the extension) are decoded with Pillow, imported
only here and only when needed, into ``uint8 (C, H, W)`` arrays of one colour mode and one size.

Real folders are messy, so: files without an image extension, hidden files and folders (``.*``)
and ``__MACOSX`` are ignored; symbolic links are followed, but a folder already visited is not
entered again (no loops); grey, colour, palette, transparent and 16-bit images are converted to
one mode. The constructor opens every image's header (cheap: Pillow is lazy and reads no pixels),
which gives the sizes and modes and catches empty, non-image and oversized files ("decompression
bombs", refused before any pixel is decoded). A bad file raises one :class:`DatasetError` naming
it, unless ``skip_bad=True``. Trade-off: a file with a sound header but damaged pixels (say a
truncated PNG) shows only when decoded, so without ``skip_bad`` it raises in ``batch``/``load``,
and with ``skip_bad`` the constructor also decodes every image once (it then costs about what
``load()`` costs) so that the bad ones are left out before any index is handed out.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import ArrayDataset
from .errors import DatasetError
from .image_file import (
    CHANNELS,
    GREY_MODES,
    UnreadableImage,
    decode_image,
    open_image,
    pillow,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_IGNORED_DIRS = ("__MACOSX",)
_SKIP_HINT = "pass --skip-bad-images (skip_bad=True) to leave unreadable images out"


class ImageFolder:
    """Images under ``root/<class>/``, decoded on demand.

    Args:
        root: the folder holding one sub-folder per class (at least two classes).
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels), or None for ``"L"`` when every image
            is grey-scale and ``"RGB"`` otherwise (palette images count as colour).
        size: ``(height, width)`` (or one int for a square) every image is resized to
            (bilinear, aspect ratio not kept); None requires all images to have one size.
        skip_bad: leave unreadable images out (listed in ``skipped``) instead of raising.

    Attributes: ``root``, ``classes``, ``num_classes``, ``samples`` (``(path, label)``),
    ``labels`` (int64), ``mode``, ``channels``, ``size``, ``image_shape`` ``(C, H, W)``,
    ``skip_bad``, ``skipped`` (``(path, reason)`` of the files left out).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        mode: str | None = None,
        size: int | tuple[int, int] | None = None,
        skip_bad: bool = False,
    ):
        if mode not in (*CHANNELS, None):
            raise ValueError(f"ImageFolder: mode must be 'L', 'RGB' or None, got {mode!r}")
        self.size = _check_size(size)
        self.skip_bad = skip_bad
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"ImageFolder: {os.fspath(root)!r} is not a folder")
        self.classes = sorted(d.name for d in _listdir(self.root) if d.is_dir())
        if not self.classes:
            raise DatasetError(
                f"ImageFolder: {os.fspath(root)!r} has no sub-folders; put the images of each "
                "class in a sub-folder named after the class"
            )
        self._image = pillow()
        self.skipped: list[tuple[Path, str]] = []
        self.samples: list[tuple[Path, int]] = []
        modes, sizes = self._scan()
        if len(self.classes) < 2:
            raise DatasetError(
                f"ImageFolder: {os.fspath(root)!r} has one class folder ({self.classes[0]!r}) "
                "but classification needs at least two; point at the folder that holds the "
                "class folders"
            )
        self.labels = np.array([label for _, label in self.samples], dtype=np.int64)
        self.mode = mode or ("L" if modes <= GREY_MODES else "RGB")
        self.channels = CHANNELS[self.mode]
        self.image_shape = (self.channels, *(self.size or self._common_size(sizes)))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _scan(self) -> tuple[set[str], list[tuple[int, int]]]:
        """Fill ``samples`` (and ``skipped``) class by class; the modes and sizes found."""
        modes: set[str] = set()
        sizes: list[tuple[int, int]] = []
        with warnings.catch_warnings():  # Pillow's bomb warning becomes an error of that file
            warnings.simplefilter("error", self._image.DecompressionBombWarning)
            for label, name in enumerate(self.classes):
                found = 0
                for path in sorted(_image_files(self.root / name)):
                    found += 1
                    try:
                        with open_image(path) as img:
                            if self.skip_bad:
                                img.load()
                            img_mode, hw = img.mode, (img.height, img.width)
                    except UnreadableImage as exc:
                        if not self.skip_bad:
                            raise self._error(path, exc) from exc.__cause__
                        self.skipped.append((path, str(exc)))
                        continue
                    modes.add(img_mode)
                    sizes.append(hw)
                    self.samples.append((path, label))
                if not self.samples or self.samples[-1][1] != label:
                    where = os.fspath(self.root / name)
                    raise DatasetError(
                        f"ImageFolder: class folder {where!r} has no "
                        + (f"readable images ({found} skipped as unreadable)" if found else
                           f"images ({'/'.join(IMAGE_EXTENSIONS)})")
                        + "; add images or remove the folder"
                    )
        return modes, sizes

    def _common_size(self, sizes: list[tuple[int, int]]) -> tuple[int, int]:
        """The one ``(height, width)`` of all images, else a DatasetError listing a few sizes."""
        counts = Counter(sizes)
        if len(counts) == 1:
            return sizes[0]
        first: dict[tuple[int, int], str] = {}
        for (path, _), hw in zip(self.samples, sizes, strict=True):
            first.setdefault(hw, os.fspath(path.relative_to(self.root)))
        found = ", ".join(f"{h}x{w} ({n} image{'s' * (n > 1)}, e.g. {first[(h, w)]!r})"
                          for (h, w), n in counts.most_common(3))
        more = f" and {len(counts) - 3} more" if len(counts) > 3 else ""
        raise DatasetError(
            f"ImageFolder: images under {os.fspath(self.root)!r} have different sizes "
            f"(height x width): {found}{more}; pass --image-size N (or size=(h, w)) to resize "
            "them all to one size"
        )

    def _error(self, path: Path, exc: UnreadableImage) -> DatasetError:
        hint = ("it was readable when the folder was scanned: did it change?" if self.skip_bad
                else f"fix or delete it, or {_SKIP_HINT}")
        return DatasetError(f"ImageFolder: image {os.fspath(path)!r} {exc}; {hint}")

    def _read(self, path: Path) -> np.ndarray:
        """Decode one image into a ``uint8 (C, H, W)`` array of ``image_shape``."""
        try:
            return decode_image(path, self.mode, self.size, expected=self.image_shape[1:])
        except UnreadableImage as exc:
            raise self._error(path, exc) from exc.__cause__

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        return self._read(path), label

    def batch(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """Decode the images at ``indices`` (ints, a slice or a mask) into ``(B, C, H, W)``."""
        chosen = np.atleast_1d(np.arange(len(self))[indices])
        images = np.empty((len(chosen), *self.image_shape), dtype=np.uint8)
        for out, i in zip(images, chosen, strict=True):
            out[...] = self._read(self.samples[i][0])
        return images, self.labels[chosen]

    def load(self) -> ArrayDataset:
        """Decode every image once into an in-memory :class:`ArrayDataset`."""
        return ArrayDataset(*self.batch(slice(None)), self.classes)

    def __repr__(self) -> str:
        return (f"ImageFolder({os.fspath(self.root)!r}, n={len(self)}, "
                f"classes={len(self.classes)}, image_shape={self.image_shape})")


def _check_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s > 0 for s in pair):
        raise ValueError(f"ImageFolder: size must be (height, width) > 0 or None, got {size!r}")
    return pair  # type: ignore[return-value]


def _listdir(folder: Path) -> list[os.DirEntry]:
    """The visible entries of ``folder`` (hidden ones and ``__MACOSX`` left out)."""
    try:
        with os.scandir(folder) as entries:
            return [e for e in entries
                    if not e.name.startswith(".") and e.name not in _IGNORED_DIRS]
    except OSError as exc:
        raise DatasetError(f"ImageFolder: cannot list folder {os.fspath(folder)!r}: {exc}") \
            from exc


def _image_files(top: Path) -> Iterator[Path]:
    """Image files under ``top`` at any depth, following links but entering each folder once.

    Iterative, so deep trees cannot exhaust the stack; a link back up the tree is skipped.
    A dangling link with an image extension is yielded, to be reported as unreadable.
    """
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in _listdir(folder):
            if entry.is_dir():
                stack.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                yield Path(entry.path)
