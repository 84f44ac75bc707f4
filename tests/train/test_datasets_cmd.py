"""``striate datasets``: which datasets are installed, where, and how to get the others."""

from __future__ import annotations

import json
import shutil

import pytest

from striate.cli import main
from striate.data import dataset_names


@pytest.fixture
def no_user_data(tmp_path, monkeypatch):
    """An empty user cache and no $STRIATE_DATA, so only the folders a test names hold data."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("STRIATE_DATA", raising=False)
    return tmp_path


def listing(capsys, *args: str) -> dict[str, dict]:
    assert main(["datasets", "--json", *args]) == 0
    return {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}


def test_every_named_dataset_is_listed(no_user_data, capsys):
    entries = listing(capsys)
    assert set(entries) <= set(dataset_names())
    assert {"fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100"} <= set(entries)
    assert all(name.startswith("emnist-") for name in set(dataset_names()) - set(entries)
               - {"emnist"})


def test_installed_in_the_data_dir_and_where(no_user_data, tiny_fmnist, capsys):
    data = no_user_data / "data"
    shutil.copytree(tiny_fmnist, data / "mnist")
    entries = listing(capsys, "--data-dir", str(data))
    assert entries["mnist"]["installed"] is True
    assert entries["mnist"]["folder"] == str(data / "mnist")
    assert entries["mnist"]["searched"][:2] == [str(data), str(data / "mnist")]
    cifar = entries["cifar10"]
    assert cifar["installed"] is False and cifar["folder"] is None
    assert cifar["download_to"] == str(data / "cifar10")  # downloads go to --data-dir
    assert cifar["source"].startswith("https://") and cifar["how_to_get"]


def test_data_dir_comes_before_striate_data(no_user_data, tiny_fmnist, capsys, monkeypatch):
    env = no_user_data / "env"
    shutil.copytree(tiny_fmnist, env / "kmnist")
    monkeypatch.setenv("STRIATE_DATA", str(env))
    assert listing(capsys)["kmnist"]["folder"] == str(env / "kmnist")
    first = no_user_data / "first"
    shutil.copytree(tiny_fmnist, first / "kmnist")
    assert listing(capsys, "--data-dir", str(first))["kmnist"]["folder"] == str(first / "kmnist")


def test_a_split_alone_is_not_installed(no_user_data, tiny_fmnist, capsys):
    data = no_user_data / "data" / "mnist"
    data.mkdir(parents=True)
    for f in tiny_fmnist.glob("train-*"):
        shutil.copy(f, data)
    assert listing(capsys, "--data-dir", str(data.parent))["mnist"]["installed"] is False


def test_table_says_where_and_how(no_user_data, tiny_fmnist, capsys):
    assert main(["datasets", "--data-dir", str(tiny_fmnist)]) == 0
    out = capsys.readouterr().out
    assert "--data-dir" in out and "$STRIATE_DATA" in out and "/usr/share/datasets" in out
    mnist_line = next(line for line in out.splitlines() if line.startswith("mnist "))
    assert "installed" in mnist_line and str(tiny_fmnist) in mnist_line
    assert "cifar-10-python.tar.gz" in out  # how to get a missing one
    assert "get it:" in out
