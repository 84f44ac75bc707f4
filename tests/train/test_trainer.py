"""The trainer: exact resume, Ctrl-C between steps, the NaN guard, atomic checkpoints."""

import dataclasses
from contextlib import contextmanager

import numpy as np
import pytest

from striate.errors import UserError
from striate.train import experiment
from striate.train.checkpoint import load_checkpoint
from striate.train.experiment import TrainConfig, train
from striate.train.trainer import Trainer


def config(tiny, out, **changes) -> TrainConfig:
    base = TrainConfig(model="lenet5", dataset="mnist", data_dir=str(tiny), epochs=2,
                       batch_size=32, lr=0.05, out=str(out), plots=False, progress=False,
                       augment="flip+crop")
    return dataclasses.replace(base, **changes)


def weights(run_dir):
    return load_checkpoint(run_dir / "last.safetensors").model_state


def test_training_learns_the_tiny_dataset_and_writes_the_run_folder(tiny_fmnist, tmp_path):
    summary = train(config(tiny_fmnist, tmp_path / "run", epochs=4))
    assert summary["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"last.safetensors", "best.safetensors", "metrics.csv", "metrics.jsonl",
            "summary.json"} <= names
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("epoch,train_loss")


def interrupt_at(monkeypatch, step: int) -> None:
    """Make Ctrl-C arrive during training step number ``step`` (counting from 1)."""
    original = Trainer.train_step
    calls = {"n": 0}

    def step_then_stop(self, images, labels):
        calls["n"] += 1
        if calls["n"] == step:
            self._stop_requested = True
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "train_step", step_then_stop)


@pytest.mark.parametrize("step,epoch,batches", [(9, 0, 9), (12, 1, 3)],
                         ids=["end of epoch 1", "mid-epoch 2"])
def test_ctrl_c_saves_and_resume_gives_the_same_weights(tiny_fmnist, tmp_path, monkeypatch,
                                                        step, epoch, batches):
    train(config(tiny_fmnist, tmp_path / "straight", epochs=3))
    with monkeypatch.context() as m:
        interrupt_at(m, step)
        with pytest.raises(KeyboardInterrupt):
            train(config(tiny_fmnist, tmp_path / "split", epochs=3))
    saved = load_checkpoint(tmp_path / "split" / "last.safetensors").meta
    assert saved["epoch"] == epoch and saved["loader_rng"]["batches_done"] == batches
    train(config(tiny_fmnist, None, epochs=0), resume=str(tmp_path / "split"))
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    lines = (tmp_path / "split" / "metrics.csv").read_text().splitlines()
    assert len(lines) == 4  # header + one row per epoch, none repeated


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(
        tiny_fmnist, tmp_path, monkeypatch):
    original = Trainer.train_step

    def poisoned(self, images, labels):
        if self.epoch >= 1:
            images = np.full_like(images, np.nan)
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    run = tmp_path / "run"
    with pytest.raises(UserError, match="loss became nan during epoch 2.*holds epoch 1, the "
                                        "last good one"):
        train(config(tiny_fmnist, run, epochs=2))
    last = load_checkpoint(run / "last.safetensors")
    assert last.meta["epoch"] == 1
    assert all(np.isfinite(v).all() for v in last.model_state.values())


def test_a_failed_checkpoint_write_leaves_the_previous_one_intact(tiny_fmnist, tmp_path,
                                                                  monkeypatch):
    import striate.interop.safetensors as safetensors

    real = safetensors.atomic_write
    calls = {"n": 0, "before": None}

    @contextmanager
    def fail_on_third_save(path, *args, **kwargs):  # epoch 1 wrote last and best
        calls["n"] += 1
        if calls["n"] == 3:
            calls["before"] = path.read_bytes()
            with real(path, *args, **kwargs) as f:
                f.write(b"partial")
                raise OSError("disk full")
        with real(path, *args, **kwargs) as f:
            yield f

    monkeypatch.setattr(safetensors, "atomic_write", fail_on_third_save)
    run = tmp_path / "run"
    with pytest.raises(OSError, match="disk full"):
        train(config(tiny_fmnist, run, epochs=2))
    assert (run / "last.safetensors").read_bytes() == calls["before"]
    assert load_checkpoint(run / "last.safetensors").meta["epoch"] == 1
    leftovers = {p.name for p in run.iterdir()} - {"last.safetensors", "best.safetensors",
                                                    "metrics.csv", "metrics.jsonl"}
    assert not leftovers


def test_early_stopping_stops_when_validation_stalls(tiny_fmnist, tmp_path, monkeypatch):
    scores = iter([0.5, 0.4, 0.3, 0.2, 0.1])

    def fake_eval(self, loader):
        metrics, labels, preds = original(self, loader)
        metrics.correct = int(next(scores) * metrics.count)
        return metrics, labels, preds

    original = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", fake_eval)
    run = tmp_path / "run"
    monkeypatch.setattr(experiment, "finish", lambda trainer, *a: trainer.epoch)
    assert train(config(tiny_fmnist, run, epochs=5, patience=2)) == 3
