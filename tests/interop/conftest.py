"""The interop tests use the training tests' tiny dataset and a run trained on it."""

import pytest

from striate.cli import main


@pytest.fixture(scope="session")
def run_dir(tiny_fmnist, tmp_path_factory):
    """A run folder of LeNet-5 after one epoch (under a second), with its optimiser state."""
    out = tmp_path_factory.mktemp("interop") / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "1",
                 "--batch-size", "64", "--out", str(out), "--no-progress", "--no-plots",
                 "--seed", "1"]) == 0
    return out
