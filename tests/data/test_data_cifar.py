"""CIFAR from tiny fake pickle batches; the restricted unpickler; safe archive extraction."""

import dataclasses
import hashlib
import importlib
import io
import os
import pickle
import shutil
import struct
import tarfile

import numpy as np
import pytest

from striate.data import DatasetError, cifar10, cifar100, load_pickle
from striate.data.download import extract_tar

cifar_module = importlib.import_module("striate.data.cifar")


def _py2(obj) -> bytes:
    """Protocol-2 opcodes as Python 2's cPickle wrote the real batches (str, not unicode)."""
    if isinstance(obj, bytes):
        if len(obj) < 256:
            return b"U" + bytes([len(obj)]) + obj
        return b"T" + struct.pack("<I", len(obj)) + obj
    if isinstance(obj, int):
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, list):
        return b"](" + b"".join(_py2(x) for x in obj) + b"e"
    if isinstance(obj, dict):
        return b"}(" + b"".join(_py2(k) + _py2(v) for k, v in obj.items()) + b"u"
    assert isinstance(obj, np.ndarray) and obj.dtype == np.uint8
    shape = b"(" + b"".join(_py2(int(s)) for s in obj.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n(U\x02u1K\x00K\x01tR"
             b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(K\x00tU\x01btR"
            b"(K\x01" + shape + dtype + b"\x89" + _py2(obj.tobytes()) + b"tb")


def py2_pickle(obj) -> bytes:
    return b"\x80\x02" + _py2(obj) + b"."


def _batch(rng, n, labels_key=b"labels", num_classes=10, extra=None):
    d = {b"batch_label": b"fake", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
         labels_key: [int(v) for v in rng.integers(0, num_classes, n)]}
    d.update(extra or {})
    return d


def make_cifar10(folder, writer=py2_pickle, n=4, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = _batch(rng, n)
        (folder / name).write_bytes(writer(batches[name]))
    names = [c.encode() for c in ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                  "frog", "horse", "ship", "truck")]
    (folder / "batches.meta").write_bytes(writer({b"label_names": names, b"num_vis": 3072}))
    return batches


def test_cifar10_real_py2_format(isolated, tmp_path):
    batches = make_cifar10(tmp_path / "cifar-10-batches-py")
    train = cifar10("train", data_dir=tmp_path, download=False)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and train.classes[9] == "truck"
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    np.testing.assert_array_equal(train.images.reshape(20, -1), expected)
    np.testing.assert_array_equal(train.labels[:4], batches["data_batch_1"][b"labels"])
    test = cifar10("test", data_dir=tmp_path / "cifar-10-batches-py", download=False)
    assert len(test) == 4


@pytest.mark.parametrize("module", [b"numpy._core.multiarray", b"numpy.core.multiarray"])
def test_numpy_pickles_both_spellings(tmp_path, module):
    d = {b"data": np.arange(3072 * 2, dtype=np.uint8).reshape(2, 3072), b"labels": [1, 2]}
    raw = pickle.dumps(d, protocol=3)  # protocol 3: text GLOBAL opcodes, bytes without codecs
    assert b"numpy._core.multiarray\n_reconstruct" in raw
    (tmp_path / "b").write_bytes(raw.replace(b"numpy._core.multiarray", module))
    out = load_pickle(tmp_path / "b")
    np.testing.assert_array_equal(out[b"data"], d[b"data"])


def test_cifar100_fine_and_coarse(isolated, tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        b = _batch(rng, 5, b"fine_labels", 100)
        b[b"coarse_labels"] = [v // 5 for v in b[b"fine_labels"]]
        (folder / split).write_bytes(pickle.dumps(b, protocol=4))
    meta = {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"c{i}".encode() for i in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=4))
    fine = cifar100("test", data_dir=tmp_path, download=False)
    coarse = cifar100("test", data_dir=tmp_path, download=False, label_mode="coarse")
    assert len(fine.classes) == 100 and len(coarse.classes) == 20
    np.testing.assert_array_equal(coarse.labels, fine.labels // 5)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_refused_and_not_run(isolated, tmp_path, protocol):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    make_cifar10(folder)
    payload = pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=protocol)
    (folder / "test_batch").write_bytes(payload)
    with pytest.raises(DatasetError, match=r"test_batch.*(posix|os)\.system.*not allowed"):
        cifar10("test", data_dir=tmp_path, download=False)
    assert not marker.exists()
    pickle.loads(payload)  # the payload is live: a plain unpickler runs it (a harmless touch)
    assert marker.exists()


def test_other_globals_refused(tmp_path):
    for payload in (pickle.dumps(eval, protocol=2), pickle.dumps(np.load, protocol=2),
                    b"cbuiltins\nexec\n(S'1'\ntR."):
        (tmp_path / "p").write_bytes(payload)
        with pytest.raises(DatasetError, match="not allowed"):
            load_pickle(tmp_path / "p")


def test_corrupt_batches(isolated, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    make_cifar10(folder)
    good = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match="test_batch.*truncated or corrupt"):
        cifar10("test", data_dir=tmp_path, download=False)
    (folder / "test_batch").write_bytes(py2_pickle({b"data": np.zeros((2, 10), np.uint8)}))
    with pytest.raises(DatasetError, match=r"'data' must be a uint8 array of shape \(N, 3072\)"):
        cifar10("test", data_dir=tmp_path, download=False)
    bad = _batch(np.random.default_rng(0), 2)
    bad[b"labels"] = [0, 10]
    (folder / "test_batch").write_bytes(py2_pickle(bad))
    with pytest.raises(DatasetError, match=r"'labels' must be 2 class indices in \[0, 10\)"):
        cifar10("test", data_dir=tmp_path, download=False)


def _tarball(path, folder, top):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=top)
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_and_unpack(isolated, tmp_path, monkeypatch):
    make_cifar10(tmp_path / "src")
    archive = tmp_path / "server" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    md5 = _tarball(archive, tmp_path / "src", "cifar-10-batches-py")
    spec = dataclasses.replace(cifar_module.CIFAR10, url=archive.as_uri(), md5=md5)
    monkeypatch.setattr(cifar_module, "CIFAR10", spec)
    assert len(cifar10("train")) == 20
    cached = tmp_path / "cache" / "striate" / "cifar10"
    assert sorted(p.name for p in cached.iterdir()) == ["cifar-10-batches-py"]
    # a wrong MD5 is refused and leaves nothing behind
    shutil.rmtree(cached)
    monkeypatch.setattr(cifar_module, "CIFAR10", dataclasses.replace(spec, md5="0" * 32))
    with pytest.raises(DatasetError, match="download failed.*MD5"):
        cifar10("test", data_dir=tmp_path / "d")
    assert not (tmp_path / "d").exists()


def _add(tar, name, data=b"x", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


@pytest.mark.parametrize("name,kind,link", [
    ("top/../../escaped", tarfile.REGTYPE, ""),
    ("/tmp/absolute-escape", tarfile.REGTYPE, ""),
    ("top/link", tarfile.SYMTYPE, "/etc/passwd"),
    ("top/hard", tarfile.LNKTYPE, "../outside"),
])
def test_unsafe_tar_refused(tmp_path, name, kind, link):
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        _add(tar, "top/ok")
        _add(tar, name, kind=kind, link=link)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DatasetError, match="refusing to unpack"):
        extract_tar(archive, dest, "top")
    assert list(dest.iterdir()) == [] and not (tmp_path / "escaped").exists()
