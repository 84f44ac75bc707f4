"""A tiny Fashion-MNIST-format dataset the tests write: learnable, so training is observable."""

import gzip
import struct

import numpy as np
import pytest

CLASSES = 10


def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                   *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k is a bright 4-pixel-wide bar at row 2k+2 on a noisy background."""
    labels = rng.integers(0, CLASSES, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for i, k in enumerate(labels):
        images[i, 2 * k + 2:2 * k + 6, 4:24] = 230
    return images.astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_fmnist(tmp_path_factory):
    """A folder with the four Fashion-MNIST files: 320 training and 80 test images."""
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 320), ("t10k", 80)):
        images, labels = make_images(rng, n)
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def image_folder():
    """A function writing a small learnable image folder (see :func:`write_image_folder`)."""
    return write_image_folder


def write_image_folder(root, per_class: int = 24, size: int = 20, rng_seed: int = 0,
                       modes=("RGB", "L")) -> list:
    """Three classes of PNGs told apart by where a bright square sits; grey and RGB mixed."""
    from PIL import Image

    rng = np.random.default_rng(rng_seed)
    paths = []
    for k, name in enumerate(("circle", "square", "triangle")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
            top = 2 + k * (size // 3 - 1)
            pixels[top:top + size // 4, 3:size - 3] = 240
            image = Image.fromarray(pixels).convert(modes[i % len(modes)])
            path = root / name / f"{i:03d}.png"
            image.save(path)
            paths.append(path)
    return paths
