"""ArrayDataset validation, random splits, the name registry, and ImageFolder."""

import sys

import numpy as np
import pytest

from striate.data import (
    ArrayDataset,
    DataLoader,
    DatasetError,
    ImageFolder,
    dataset_names,
    get_dataset,
    random_split,
    train_val_split,
)


def _dataset(n=20):
    return ArrayDataset(np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2), np.arange(n) % 4,
                        classes=["a", "b", "c", "d"])


def test_array_dataset_access():
    ds = _dataset()
    image, label = ds[5]
    assert image.shape == (1, 2, 2) and label == 1 and isinstance(label, int)
    images, labels = ds.batch(np.array([3, 0]))
    assert images.shape == (2, 1, 2, 2) and labels.tolist() == [3, 0]
    assert len(ds) == 20 and ds.num_classes == 4 and ds.image_shape == (1, 2, 2)


def test_array_dataset_validation():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(3, 2, 2\).*images\[:, None\]"):
        ArrayDataset(np.zeros((3, 2, 2)), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\).*got shape \(4,\)"):
        ArrayDataset(np.zeros((3, 1, 2, 2)), np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="labels must be integers.*float"):
        ArrayDataset(np.zeros((3, 1, 2, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="label 5 out of range for 2 classes"):
        ArrayDataset(np.zeros((3, 1, 2, 2)), np.array([0, 1, 5]), classes=["x", "y"])
    with pytest.raises(ValueError, match=">= 0"):
        ArrayDataset(np.zeros((1, 1, 2, 2)), np.array([-1]))
    assert ArrayDataset(np.zeros((2, 1, 1, 1)), np.array([0, 1], np.uint8)).labels.dtype == np.int64


def test_random_split_disjoint_and_seeded():
    ds = _dataset(20)
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=3)
    assert [len(p) for p in parts] == [10, 6, 4]
    joined = np.concatenate([p.indices for p in parts])
    assert sorted(joined.tolist()) == list(range(20))
    again = random_split(ds, [10, 6, 4], seed=3)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again, strict=True))
    assert not np.array_equal(random_split(ds, [10, 10], seed=4)[0].indices, parts[0].indices)
    assert [len(p) for p in random_split(ds, [1 / 3, 1 / 3, 1 / 3])] == [7, 7, 6]
    with pytest.raises(ValueError, match="sum to 19"):
        random_split(ds, [10, 9])


def test_train_val_split_through_the_loader():
    ds = _dataset(20)
    train, val = train_val_split(ds, 0.25, seed=0)
    assert len(train) == 15 and len(val) == 5 and val.classes == ds.classes
    image, label = val[0]
    np.testing.assert_array_equal(image, ds[int(val.indices[0])][0])
    seen = [x for x, _ in DataLoader(val, 2)]
    np.testing.assert_array_equal(np.concatenate(seen), ds.images[val.indices])
    np.testing.assert_array_equal(val.labels, ds.labels[val.indices])
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(ds, 1.0)


def test_registry(isolated, monkeypatch, fake_mnist):
    import dataclasses
    import importlib

    mnist_module = importlib.import_module("striate.data.mnist")
    spec = dataclasses.replace(mnist_module.DATASETS["kmnist"], system_dirs=())
    monkeypatch.setitem(mnist_module.DATASETS, "kmnist", spec)
    data = fake_mnist(isolated / "d", n=3)
    ds = get_dataset("KMNIST", "test", data_dir=isolated / "d")
    np.testing.assert_array_equal(ds.labels, data["test"][1])
    assert "emnist-letters" in dataset_names() and "cifar100" in dataset_names()
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*fashion-mnist"):
        get_dataset("imagenet")
    with pytest.raises(DatasetError, match="CIFAR-10 not found"):
        get_dataset("cifar-10", "test", data_dir=isolated, download=False)


def test_image_folder_needs_pillow(tmp_path, monkeypatch):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.png").write_bytes(b"not really a png")
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(DatasetError, match="needs Pillow.*pip install pillow"):
        ImageFolder(tmp_path)
    with pytest.raises(DatasetError, match="no sub-folders"):
        ImageFolder(tmp_path / "cat")


def test_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for cls, n in (("b_dog", 2), ("a_cat", 3)):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(
                tmp_path / "train" / cls / f"{i}.png")
    (tmp_path / "train" / "a_cat" / "notes.txt").write_text("ignored")
    folder = get_dataset(str(tmp_path), "train")
    assert folder.classes == ["a_cat", "b_dog"] and len(folder) == 5 and folder.mode == "L"
    image, label = folder[4]
    assert image.shape == (1, 6, 5) and label == 1
    ds = folder.load()
    assert ds.images.shape == (5, 1, 6, 5) and ds.labels.tolist() == [0, 0, 0, 1, 1]
    rgb = ImageFolder(tmp_path / "train", mode="RGB", size=(4, 4))
    assert rgb.batch(np.arange(2))[0].shape == (2, 3, 4, 4)
