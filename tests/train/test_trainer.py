"""The trainer: exact resume, Ctrl-C between steps, the NaN guard, atomic checkpoints."""

import dataclasses
import re
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


# --- gradient accumulation, clipping, plateau schedule, label smoothing -------------------------


def _float64_trainer(tmp_path, batch_size, accumulate, clip=None, momentum=0.9, name="run"):
    """A small float64 conv net on 40 random images, SGD (+ OneCycle), no batch norm."""
    from striate import nn, optim
    from striate.data import ArrayDataset, DataLoader
    from striate.optim.lr_scheduler import OneCycleLR

    rng = np.random.default_rng(0)
    data = ArrayDataset(rng.standard_normal((40, 1, 6, 6)), rng.integers(0, 3, 40))
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    model.load_state_dict({k: np.random.default_rng(1).standard_normal(v.shape)
                           for k, v in model.state_dict().items()})
    model.double()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=momentum,
                    weight_decay=1e-3 if momentum else 0.0)
    loader = DataLoader(data, batch_size, shuffle=True, generator=np.random.default_rng(2),
                        prefetch=0)
    steps = 2 * -(-len(loader) // accumulate)
    scheduler = OneCycleLR(opt, max_lr=0.1, total_steps=steps) if momentum else None
    return Trainer(model, opt, loader, tmp_path / name, {}, scheduler=scheduler,
                   progress=False, accumulate=accumulate, clip_grad_norm=clip)


@pytest.mark.parametrize("batch,accumulate", [(8, 2), (4, 5), (8, 5)],
                         ids=["groups 2,2,1", "groups of 5", "one group"])
def test_accumulating_n_batches_is_one_batch_of_n_times_b_in_float64(tmp_path, batch,
                                                                      accumulate):
    """40 images: batches of B summed N at a time (the epoch's last group smaller) step exactly
    as batches of N·B (the last one smaller), momentum, weight decay and schedule included."""
    small = _float64_trainer(tmp_path, batch, accumulate, name="small")
    large = _float64_trainer(tmp_path, batch * accumulate, 1, name="large")
    for _ in range(2):
        small.train_epoch()
        large.train_epoch()
    assert small.scheduler.last_epoch == large.scheduler.last_epoch == small.scheduler.total_steps
    ours, theirs = small.model.state_dict(), large.model.state_dict()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-13, err_msg=key)
    assert ours["3.weight"].dtype == np.float64


def test_clip_grad_norm_bounds_each_step(tmp_path):
    """Plain SGD: each step moves the weights by lr·g, and ‖g‖ ≤ max_norm after clipping."""
    trainer = _float64_trainer(tmp_path, 8, 1, clip=0.01, momentum=0.0)
    before = [p.data.copy() for p in trainer.model.parameters()]
    images, labels = next(iter(trainer.train_loader))
    trainer.train_step(images, labels)
    moved = np.sqrt(sum(((p.data - b) ** 2).sum()
                        for p, b in zip(trainer.model.parameters(), before, strict=True)))
    assert moved == pytest.approx(0.05 * 0.01, rel=1e-4)  # the raw gradient is far longer


def test_plateau_schedule_divides_the_rate_when_validation_stalls_and_resumes(
        tiny_fmnist, tmp_path, monkeypatch):
    losses = iter([1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.5])  # the last: the test set

    def fake_eval(self, loader):
        metrics, labels, preds = original(self, loader)
        metrics.loss_sum = next(losses) * metrics.count
        return metrics, labels, preds

    original = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", fake_eval)
    run = tmp_path / "run"
    train(config(tiny_fmnist, run, epochs=6, schedule="plateau", lr=0.01, augment="none"))
    meta = load_checkpoint(run / "last.safetensors").meta
    # best 0.9 at epoch 2; epochs 3, 4, 5 are not better (> patience 2): ×0.1 for epoch 6
    assert [round(row["lr"], 6) for row in meta["history"]] == [0.01] * 5 + [0.001]
    assert meta["scheduler"]["num_bad_epochs"] == 1
    assert meta["scheduler"]["best"] == pytest.approx(0.9)
    assert meta["scheduler"]["_last_lr"] == [pytest.approx(0.001)]
    assert meta["config"]["schedule"] == "plateau"


@pytest.mark.parametrize("step,batches", [(3, 4), (9, 9)], ids=["mid-group", "group of one"])
def test_ctrl_c_waits_for_the_accumulation_group_and_resume_is_exact(
        tiny_fmnist, tmp_path, monkeypatch, step, batches):
    """9 batches an epoch, 2 per step: a stop during batch 3 waits for batch 4; during batch 9
    (a group of one), the epoch ends.  Plateau, clipping and label smoothing resume too."""
    options = dict(epochs=3, accumulate=2, clip_grad_norm=0.5, label_smoothing=0.1,
                   schedule="plateau")
    train(config(tiny_fmnist, tmp_path / "straight", **options))
    with monkeypatch.context() as m:
        interrupt_at(m, step)
        with pytest.raises(KeyboardInterrupt):
            train(config(tiny_fmnist, tmp_path / "split", **options))
    saved = load_checkpoint(tmp_path / "split" / "last.safetensors").meta
    assert saved["loader_rng"]["batches_done"] == batches
    assert {k: saved["config"][k] for k in options} == options
    train(config(tiny_fmnist, None, epochs=0), resume=str(tmp_path / "split"))
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_is_exact_with_every_augmentation(tiny_fmnist, tmp_path, monkeypatch):
    """A stop mid-epoch 2 with random-resized crops, rotations, colour jitter, random erasing,
    mixup and CutMix
    (one of the two per batch) resumes to the same weights; the options are in the checkpoint
    and every training batch's labels are mixed."""
    from striate.data import MixedLabels

    options = dict(epochs=2,
                   augment="flip+random-resized-crop+rotate+color-jitter+erase+mixup+cutmix",
                   mixup_alpha=0.4, cutmix_alpha=0.5)
    seen = []
    original = Trainer.train_step

    def spy(self, images, labels):
        seen.append(isinstance(labels, MixedLabels))
        return original(self, images, labels)

    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", spy)
        train(config(tiny_fmnist, tmp_path / "straight", **options))
    assert seen and all(seen)
    with monkeypatch.context() as m:
        interrupt_at(m, 12)
        with pytest.raises(KeyboardInterrupt):
            train(config(tiny_fmnist, tmp_path / "split", **options))
    saved = load_checkpoint(tmp_path / "split" / "last.safetensors").meta
    assert {k: saved["config"][k] for k in options} == options
    train(config(tiny_fmnist, None, epochs=0), resume=str(tmp_path / "split"))
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_label_smoothing_trains_on_smoothed_targets_and_reports_plain_loss(tiny_fmnist, tmp_path,
                                                                          monkeypatch):
    from striate.nn import functional as F

    seen = []
    real = F.cross_entropy

    def spy(input, target, *args, **kwargs):
        seen.append(kwargs.get("label_smoothing", 0.0))
        return real(input, target, *args, **kwargs)

    monkeypatch.setattr(F, "cross_entropy", spy)
    train(config(tiny_fmnist, tmp_path / "run", epochs=1, label_smoothing=0.2))
    assert 0.2 in seen and 0.0 in seen  # training steps, then validation and test


@pytest.mark.parametrize("changes,message", [
    ({"accumulate": 0}, "--accumulate must be at least 1"),
    ({"clip_grad_norm": 0.0}, "--clip-grad-norm must be a positive finite number"),
    ({"label_smoothing": 1.0}, "--label-smoothing must be in [0, 1)"),
    ({"augment": "flip+blur"}, "--augment 'flip+blur' has an unknown augmentation 'blur'; "
                               "combine with + from: flip, crop, translate, random-resized-crop"),
    ({"augment": "flip+crop+flip"}, "--augment 'flip+crop+flip' repeats 'flip'"),
    ({"mixup_alpha": 0.0}, "--mixup-alpha must be in [0.001, 1000], got 0.0"),
    ({"cutmix_alpha": float("nan")}, "--cutmix-alpha must be in [0.001, 1000], got nan"),
])
def test_bad_step_options_are_refused(tiny_fmnist, tmp_path, changes, message):
    with pytest.raises(UserError, match=re.escape(message)):
        train(config(tiny_fmnist, tmp_path / "run", **changes))
