"""Fixtures for the data tests: tiny IDX files and an isolated dataset search path."""

import gzip
import struct

import numpy as np
import pytest

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
          np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def _idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = struct.pack(">BBBB", 0, 0, _CODES[big], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big).tobytes()


@pytest.fixture
def idx_bytes():
    """``idx_bytes(array) -> bytes`` in IDX format."""
    return _idx_bytes


@pytest.fixture
def write_idx():
    """``write_idx(path, array)``: IDX file, gzip-compressed when the name ends in .gz."""

    def write(path, array):
        data = _idx_bytes(array)
        path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
        return path

    return write


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $STRIATE_DATA and an empty user cache, so only what a test puts there is found."""
    monkeypatch.delenv("STRIATE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def fake_mnist(write_idx):
    """``fake_mnist(folder, n=12, seed=0)``: the four MNIST-style files with random content."""

    def make(folder, n=12, seed=0, num_classes=10):
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for split, prefix in (("train", "train"), ("test", "t10k")):
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            labels = rng.integers(0, num_classes, size=n, dtype=np.uint8)
            write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
            write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
            out[split] = (images, labels)
        return out

    return make
