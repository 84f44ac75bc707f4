"""IDX datasets: the Debian Fashion-MNIST, the search order, and downloads from a local fake."""

import dataclasses
import gzip
import importlib
from pathlib import Path

import numpy as np
import pytest

from striate.data import DatasetError, emnist, fashion_mnist, kmnist, mnist

# The package exports the function `mnist`, which hides the module of the same name.
mnist_module = importlib.import_module("striate.data.mnist")

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FASHION = mnist_module.DATASETS["fashion-mnist"]


@pytest.fixture
def no_hashes(monkeypatch):
    """Let fake Fashion-MNIST files pass: drop the known hashes (and the Debian folder)."""
    spec = dataclasses.replace(FASHION, sha256={}, system_dirs=())
    monkeypatch.setitem(mnist_module.DATASETS, "fashion-mnist", spec)
    return spec


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist(isolated):
    train, test = fashion_mnist("train", download=False), fashion_mnist("test", download=False)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(train.labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.labels), [1000] * 10)
    np.testing.assert_array_equal(train.labels[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    assert abs(train.images.mean() / 255 - 0.2860) < 1e-3  # the published channel mean


def test_data_dir_beats_system_dir(isolated, fake_mnist, monkeypatch, tmp_path):
    system, mine = tmp_path / "system", tmp_path / "mine"
    sys_data, my_data = fake_mnist(system, n=5, seed=1), fake_mnist(mine, n=7, seed=2)
    spec = dataclasses.replace(FASHION, sha256={}, system_dirs=(str(system),))
    monkeypatch.setitem(mnist_module.DATASETS, "fashion-mnist", spec)
    np.testing.assert_array_equal(fashion_mnist("train").images[:, 0], sys_data["train"][0])
    got = fashion_mnist("test", data_dir=mine)
    np.testing.assert_array_equal(got.images[:, 0], my_data["test"][0])
    np.testing.assert_array_equal(got.labels, my_data["test"][1])
    # $STRIATE_DATA/<name> also beats the system folder; data_dir beats $STRIATE_DATA
    env_data = fake_mnist(tmp_path / "env" / "fashion-mnist", n=3, seed=3)
    monkeypatch.setenv("STRIATE_DATA", str(tmp_path / "env"))
    np.testing.assert_array_equal(fashion_mnist("train").labels, env_data["train"][1])
    assert len(fashion_mnist("train", data_dir=mine)) == 7


def test_cache_and_uncompressed_files(isolated, fake_mnist, no_hashes, tmp_path):
    cache = tmp_path / "cache" / "striate" / "fashion-mnist"
    data = fake_mnist(cache, n=4)
    for f in cache.glob("t10k-*.gz"):  # an unpacked copy is accepted too
        f.with_suffix("").write_bytes(gzip.decompress(f.read_bytes()))
        f.unlink()
    np.testing.assert_array_equal(fashion_mnist("test", download=False).labels, data["test"][1])


def test_missing_without_download_says_where_and_how(isolated, no_hashes, tmp_path):
    with pytest.raises(DatasetError) as info:
        fashion_mnist("train", data_dir=tmp_path / "empty", download=False)
    msg = str(info.value)
    assert "Fashion-MNIST (train split) not found" in msg
    assert str(tmp_path / "empty") in msg and "train-images-idx3-ubyte.gz" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir" in msg
    assert "download=False" in msg


def _serve(monkeypatch, spec_name, folder, **changes):
    spec = mnist_module.DATASETS[spec_name]
    spec = dataclasses.replace(spec, base_url=folder.as_uri() + "/", system_dirs=(), **changes)
    monkeypatch.setitem(mnist_module.DATASETS, spec_name, spec)
    return spec


def test_download_from_local_fake(isolated, fake_mnist, monkeypatch, tmp_path, idx_bytes):
    import hashlib

    served = fake_mnist(tmp_path / "server", n=6)
    hashes = {
        f.name: hashlib.sha256(gzip.decompress(f.read_bytes())).hexdigest()
        for f in (tmp_path / "server").iterdir()
    }
    _serve(monkeypatch, "fashion-mnist", tmp_path / "server", sha256=hashes)
    got = fashion_mnist("train", data_dir=tmp_path / "data")
    np.testing.assert_array_equal(got.images[:, 0], served["train"][0])
    target = tmp_path / "data" / "fashion-mnist"
    assert sorted(p.name for p in target.iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    # without data_dir the download goes to the user cache, and is found there next time
    mnist_spec = _serve(monkeypatch, "mnist", tmp_path / "server")
    assert len(mnist("test")) == 6
    assert (tmp_path / "cache" / "striate" / "mnist" / mnist_spec.files["test"][0]).is_file()
    monkeypatch.setitem(mnist_module.DATASETS, "mnist",
                        dataclasses.replace(mnist_spec, base_url="file:///nonexistent/"))
    assert len(mnist("test")) == 6


def test_download_checksum_mismatch_leaves_nothing(isolated, fake_mnist, monkeypatch, tmp_path):
    fake_mnist(tmp_path / "server")
    _serve(monkeypatch, "fashion-mnist", tmp_path / "server")  # keeps the real hashes
    with pytest.raises(DatasetError) as info:
        fashion_mnist("test", data_dir=tmp_path / "data")
    msg = str(info.value)
    assert "download failed" in msg and "SHA-256" in msg and "t10k-images" in msg
    assert not (tmp_path / "data").exists()  # no partial file, not even an empty folder


def test_download_structure_checked_without_hash(isolated, monkeypatch, tmp_path, write_idx):
    server = tmp_path / "server"
    server.mkdir()
    (server / "train-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    write_idx(server / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    _serve(monkeypatch, "kmnist", server)
    with pytest.raises(DatasetError, match="not an IDX file"):
        kmnist("train", data_dir=tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_no_network_message(isolated, monkeypatch, tmp_path):
    _serve(monkeypatch, "fashion-mnist", tmp_path / "no-server")
    with pytest.raises(DatasetError) as info:
        fashion_mnist("train")
    msg = str(info.value)
    assert "download failed" in msg and "cannot download" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "STRIATE_DATA" in msg


def test_inconsistent_files(isolated, no_hashes, tmp_path, write_idx):
    d = tmp_path / "d"
    d.mkdir()
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DatasetError, match=r"labels file.*\(4,\).*expected uint8 \(3,\)"):
        fashion_mnist("test", data_dir=d)
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10], np.uint8))
    with pytest.raises(DatasetError, match="label 10 but the dataset has 10 classes"):
        fashion_mnist("test", data_dir=d)
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.float32))
    with pytest.raises(DatasetError, match="images file.*float32"):
        fashion_mnist("test", data_dir=d)


def test_bad_split():
    with pytest.raises(ValueError, match="split must be one of"):
        fashion_mnist("val")


def test_emnist_transposed_with_subset_classes(isolated, tmp_path, write_idx):
    d = tmp_path / "emnist"
    d.mkdir()
    stored = np.zeros((2, 28, 28), np.uint8)
    stored[:, 0, 5] = 255  # column-major on disk: appears at row 5, column 0 after loading
    write_idx(d / "emnist-letters-test-images-idx3-ubyte.gz", stored)
    write_idx(d / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 26], np.uint8))
    ds = emnist("test", subset="letters", data_dir=tmp_path, download=False)
    assert ds.images.shape == (2, 1, 28, 28) and ds.images[0, 0, 5, 0] == 255
    assert ds.classes[1] == "a" and ds.classes[26] == "z" and len(ds.classes) == 27
    assert len(mnist_module.EMNIST_CLASSES["balanced"]) == 47
    assert len(mnist_module.EMNIST_CLASSES["byclass"]) == 62
    with pytest.raises(ValueError, match="subset must be one of"):
        emnist("test", subset="nope")


def test_emnist_download_from_zip(isolated, monkeypatch, tmp_path, idx_bytes):
    import zipfile

    server = tmp_path / "server"
    server.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    with zipfile.ZipFile(server / "gzip.zip", "w") as zf:
        zf.writestr("gzip/emnist-digits-test-images-idx3-ubyte.gz",
                    gzip.compress(idx_bytes(images)))
        zf.writestr("gzip/emnist-digits-test-labels-idx1-ubyte.gz",
                    gzip.compress(idx_bytes(np.array([1, 2, 3], np.uint8))))
    real = mnist_module.emnist_spec
    monkeypatch.setattr(mnist_module, "emnist_spec", lambda subset: dataclasses.replace(
        real(subset), base_url=server.as_uri() + "/"))
    ds = emnist("test", subset="digits")
    np.testing.assert_array_equal(ds.images[:, 0], images.transpose(0, 2, 1))
    cached = tmp_path / "cache" / "striate" / "emnist"
    assert (cached / "emnist-digits-test-labels-idx1-ubyte.gz").is_file()
    with pytest.raises(DatasetError, match="gzip.zip.*cannot be unpacked.*no item named"):
        emnist("train", subset="digits")  # the archive lacks the train files
