"""``striate train --workers 2``: the whole command as a job, and resuming it with 2 or 1 ranks."""

import subprocess
import sys

import numpy as np


def striate(*args: str, workers: int | None = 2) -> subprocess.CompletedProcess:
    extra = ["--workers", str(workers)] if workers else []
    return subprocess.run([sys.executable, "-m", "striate.cli", "train", *args, *extra],
                          capture_output=True, text=True, timeout=120)


def weights(run):
    from striate.train.checkpoint import load_checkpoint

    return load_checkpoint(run / "last.safetensors").model_state


def test_workers_train_and_resume_with_the_same_or_another_number_of_ranks(mpiexec, tiny_fmnist,
                                                                          tmp_path):
    common = ["--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--batch-size", "32",
              "--no-progress", "--no-plots", "--schedule", "constant", "--seed", "1"]
    whole = striate(*common, "--epochs", "2", "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count("epoch 2:") == 1  # rank 0 alone prints
    assert "test accuracy" in whole.stdout
    for run in ("two", "one"):
        first = striate(*common, "--epochs", "1", "--out", str(tmp_path / run))
        assert first.returncode == 0, first.stderr
    again = striate("--resume", str(tmp_path / "two"), "--epochs", "2", "--no-progress")
    alone = striate("--resume", str(tmp_path / "one"), "--epochs", "2", "--no-progress",
                    workers=None)
    assert again.returncode == 0 and alone.returncode == 0, again.stderr + alone.stderr
    expected = weights(tmp_path / "whole")
    for name, value in weights(tmp_path / "two").items():  # the same ranks: bit for bit
        np.testing.assert_array_equal(value, expected[name])
    for name, value in weights(tmp_path / "one").items():  # one rank: up to float32 rounding
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-5)


def test_a_batch_that_leaves_a_rank_nothing_is_refused_in_one_line(mpiexec, tiny_fmnist,
                                                                   tmp_path):
    done = striate("--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--batch-size", "1",
                   "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "some would get no image of a training batch" in done.stderr
    assert "Traceback" not in done.stderr
