"""Every path the README and --help advertise, on real and on broken input (the Paths issue)."""

import dataclasses
import json
import os
import signal

import numpy as np
import pytest

from striate.cli import main
from striate.errors import UserError
from striate.train import experiment
from striate.train.checkpoint import load_checkpoint
from striate.train.config import TrainConfig
from striate.train.datasets import open_split
from striate.train.experiment import train
from striate.train.metrics import MetricsLog
from striate.train.trainer import Trainer, TrainingInterrupted


def config(tiny, out, **changes) -> TrainConfig:
    base = TrainConfig(model="lenet5", dataset="mnist", data_dir=str(tiny), epochs=2,
                       batch_size=32, lr=0.05, out=str(out), plots=False, progress=False)
    return dataclasses.replace(base, **changes)


def quiet(*argv: str) -> list[str]:
    return [*argv, "--no-progress", "--no-plots"]


# --- image folders -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory, image_folder):
    root = tmp_path_factory.mktemp("photos")
    image_folder(root)
    return root


def test_a_folder_without_test_split_trains_on_a_held_out_test_set(photos, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(quiet("train", "--dataset", str(photos), "--image-size", "28", "--epochs", "3",
                      "--batch-size", "16", "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "held out from" in printed and "test accuracy" in printed
    meta = load_checkpoint(out / "last.safetensors").meta
    assert meta["classes"] == ["circle", "square", "triangle"]
    assert meta["image_shape"] == [3, 28, 28]
    saved = TrainConfig.from_meta(meta, out)
    train_part, test_part = open_split(saved, "train"), open_split(saved, "test")
    assert len(test_part) == round(0.2 * 72)
    assert not set(train_part.indices) & set(test_part.indices)  # never the training images
    assert "held out" in json.loads((out / "summary.json").read_text())["test_set"]

    assert main(["evaluate", str(out)]) == 0
    assert f"test ({len(test_part)} images)" in capsys.readouterr().out
    assert main(["predict", str(out), str(photos / "square")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 24 and all("square" in line for line in lines[:3])


def test_a_folder_with_train_and_test_splits_uses_them(tmp_path, capsys, image_folder):
    image_folder(tmp_path / "data" / "train", per_class=12)
    image_folder(tmp_path / "data" / "test", per_class=4, rng_seed=1)
    out = tmp_path / "run"
    assert main(quiet("train", "--dataset", str(tmp_path / "data"), "--image-size", "24",
                      "--channels", "1", "--epochs", "1", "--out", str(out))) == 0
    assert "test set: 12 images" in capsys.readouterr().out
    assert load_checkpoint(out / "last.safetensors").meta["image_shape"] == [1, 24, 24]
    assert main(["evaluate", str(out)]) == 0


def test_a_folder_of_mixed_sizes_asks_for_image_size(tmp_path, capsys, image_folder):
    image_folder(tmp_path / "a", per_class=3, size=20)
    image_folder(tmp_path / "a", per_class=2, size=26, rng_seed=3)  # overwrites some
    assert main(quiet("train", "--dataset", str(tmp_path / "a"), "--out",
                      str(tmp_path / "run"))) == 2
    assert "--image-size" in capsys.readouterr().err


def test_a_bad_image_is_named_or_skipped_when_asked(tmp_path, capsys, image_folder):
    image_folder(tmp_path / "a", per_class=8)
    (tmp_path / "a" / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    argv = quiet("train", "--dataset", str(tmp_path / "a"), "--image-size", "28", "--epochs",
                 "1", "--out", str(tmp_path / "run"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-bad-images" in err
    assert main([*argv, "--skip-bad-images"]) == 0
    assert capsys.readouterr().out.count("skipped 1 unreadable image") == 1  # read once


# --- resume, signals, the run folder ---------------------------------------------------------


def test_resume_takes_the_newest_checkpoint_and_a_finished_run_is_left_alone(
        tiny_fmnist, tmp_path, monkeypatch, capsys):
    scores = iter([0.9, 0.1, 0.1, 0.5])  # epoch 1 is the best (the last is the test set)

    def fake_eval(self, loader):
        metrics, labels, preds = original(self, loader)
        metrics.correct = int(next(scores) * metrics.count)
        return metrics, labels, preds

    original = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", fake_eval)
    run = tmp_path / "run"
    train(config(tiny_fmnist, run, epochs=3))
    assert load_checkpoint(run / "best.safetensors").meta["epoch"] == 1
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    train(config(tiny_fmnist, None, epochs=0), resume=str(run))
    assert "is finished (3 of 3 epochs); nothing to do" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_finished_run_continues_when_epochs_are_raised(tiny_fmnist, tmp_path, capsys):
    run = tmp_path / "run"
    train(config(tiny_fmnist, run, epochs=1))
    train(config(tiny_fmnist, None, epochs=3), resume=str(run))
    assert "from 1 to 3 epochs" in capsys.readouterr().out
    meta = load_checkpoint(run / "last.safetensors").meta
    assert meta["epoch"] == 3 and meta["config"]["schedule_start"] == 1
    assert len((run / "metrics.csv").read_text().splitlines()) == 4


def test_an_unfinished_run_keeps_its_plan(tiny_fmnist, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train(config(tiny_fmnist, tmp_path / "run", epochs=2))
    with pytest.raises(UserError, match="planned for 2 epochs"):
        train(config(tiny_fmnist, None, epochs=3), resume=str(tmp_path / "run"))


def interrupt_at(monkeypatch, step: int, signum: int = signal.SIGINT) -> None:
    """Deliver ``signum`` to this process during training step number ``step``."""
    original = Trainer.train_step
    calls = {"n": 0}

    def step_then_signal(self, images, labels):
        calls["n"] += 1
        if calls["n"] == step:
            os.kill(os.getpid(), signum)
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "train_step", step_then_signal)


def test_sigterm_saves_like_ctrl_c_and_exits_143(tiny_fmnist, tmp_path, monkeypatch, capsys):
    interrupt_at(monkeypatch, 4, signal.SIGTERM)
    run = tmp_path / "run"
    argv = quiet("train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs",
                 "2", "--batch-size", "32", "--out", str(run))
    assert main(argv) == 143
    assert "interrupted (SIGTERM)" in capsys.readouterr().err
    saved = load_checkpoint(run / "last.safetensors").meta
    assert saved["loader_rng"]["batches_done"] == 4
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_training_interrupted_is_a_keyboard_interrupt():
    assert isinstance(TrainingInterrupted(signal.SIGTERM), KeyboardInterrupt)


def test_ctrl_c_during_start_up_exits_130_without_traceback(monkeypatch, tmp_path, capsys):
    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "load_data", interrupted)
    assert main(quiet("train", "--out", str(tmp_path / "run"))) == 130
    err = capsys.readouterr().err
    assert err.strip() == "striate train: interrupted (SIGINT)"


def test_stale_temporary_files_of_a_killed_run_are_removed(tiny_fmnist, tmp_path):
    run = tmp_path / "run"
    train(config(tiny_fmnist, run, epochs=1))
    stale = run / ".last.safetensors.0123abcd.tmp"
    stale.write_bytes(b"half a checkpoint")
    keep = run / "notes.tmp"
    keep.write_text("mine")
    train(config(tiny_fmnist, None, epochs=2), resume=str(run))
    assert not stale.exists() and keep.exists()


def test_a_run_folder_is_not_mixed_with_another_run(tiny_fmnist, tmp_path, capsys):
    run = tmp_path / "run"
    argv = quiet("train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "2",
                 "--out", str(run))
    assert main(argv) == 0
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert main([*argv, "--epochs", "1", "--overwrite"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "1"]


# --- the NaN guard -------------------------------------------------------------------------------


def test_exploding_weights_are_never_saved_and_the_message_says_what_was_kept(
        tiny_fmnist, tmp_path, monkeypatch):
    original = Trainer.train_epoch

    def explode_in_epoch_2(self):
        metrics = original(self)
        if self.epoch == 1:
            next(iter(self.model.parameters())).data[...] = np.inf
        return metrics

    monkeypatch.setattr(Trainer, "train_epoch", explode_in_epoch_2)
    run = tmp_path / "run"
    with pytest.raises(UserError, match=r"epoch 2 the weights became non-finite.*holds "
                                        r"epoch 1, the last good one"):
        train(config(tiny_fmnist, run, epochs=3))
    for name in ("last", "best"):
        saved = load_checkpoint(run / f"{name}.safetensors")
        assert saved.meta["epoch"] == 1
        assert all(np.isfinite(v).all() for v in saved.model_state.values())


def test_a_huge_learning_rate_stops_without_saving_anything(tiny_fmnist, tmp_path, capsys):
    import warnings

    run = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(quiet("train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist),
                          "--epochs", "2", "--lr", "1e37", "--out", str(run))) == 2
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]  # our message only
    err = capsys.readouterr().err
    assert "No checkpoint was written" in err and "lower --lr" in err
    assert not list(run.glob("*.safetensors"))


def test_metrics_jsonl_writes_nan_as_null(tmp_path):
    log = MetricsLog(tmp_path)
    log.append({"epoch": 1, "val_loss": float("nan"), "train_loss": float("inf")})
    row = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert row == {"epoch": 1, "val_loss": None, "train_loss": None}


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [2, 3, 5])
def test_tiny_limits_train(tiny_fmnist, tmp_path, limit):
    summary = train(config(tiny_fmnist, tmp_path / "run", epochs=1, limit=limit))
    assert summary["epochs"] == 1


@pytest.mark.parametrize("argv,message", [
    (["train", "--limit", "0"], "--limit must be at least 1"),
    (["train", "--limit", "-5"], "--limit must be at least 1"),
    (["train", "--limit", "1"], "leave none to train on"),
    (["train", "--seed", "-1"], "--seed must be"),
    (["train", "--lr", "inf"], "--lr must be a positive finite number"),
    (["train", "--lr", "nan"], "--lr must be a positive finite number"),
    (["train", "--momentum", "nan"], "--momentum must be a finite number >= 0"),
    (["train", "--weight-decay", "-1"], "--weight-decay must be a finite number >= 0"),
    (["train", "--patience", "0"], "--patience must be at least 1"),
    (["train", "--model-args", '{"foo": 1}'], "foo"),
    (["train", "--model-args", '{"num_classes": 3}'], "the dataset sets them"),
    (["train", "--model-args", "[1]"], "must be a JSON object"),
    (["train", "--out", "{file}"], "is a file"),
    (["train", "--data-dir", "{missing}"], "no such folder"),
    (["train", "--image-size", "0"], "--image-size must be at least 1"),
    (["train", "--resume", "{missing}"], "no such checkpoint"),
    (["evaluate", "{missing}", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["summary", "lenet5", "--model-args", '{"num_classes": 1000000000}'], "num_classes"),
    (["bench", "lenet5", "--input-size", "2", "--no-torch"], "too small"),
    (["bench", "resnet20", "--input-size", "0", "--no-torch"], "input_size"),
    (["predict", "{missing}", "x.png"], "no such checkpoint"),
])
def test_bad_options_print_one_line_and_exit_2(argv, message, tmp_path, capsys):
    (tmp_path / "file").write_text("a file")
    places = {"{file}": str(tmp_path / "file"), "{missing}": str(tmp_path / "missing")}
    args = [places.get(a, a) for a in argv]
    if args[0] == "train" and "--out" not in args:
        args += ["--out", str(tmp_path / "run")]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err


def test_evaluate_refuses_an_unknown_dataset(tiny_fmnist, tmp_path, capsys):
    run = tmp_path / "run"
    train(config(tiny_fmnist, run, epochs=1))
    assert main(["evaluate", str(run), "--dataset", "no-such-dataset"]) == 2
    assert "unknown dataset 'no-such-dataset'" in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tiny_fmnist, tmp_path,
                                                                monkeypatch, capsys):
    import errno

    import striate.train.trainer as trainer_module

    real, calls = trainer_module.save_checkpoint, {"n": 0}

    def disk_fills(path, *args):
        calls["n"] += 1
        if calls["n"] > 2:  # epoch 1 wrote last and best
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args)

    monkeypatch.setattr(trainer_module, "save_checkpoint", disk_fills)
    run = tmp_path / "run"
    assert main(quiet("train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist),
                      "--epochs", "2", "--out", str(run))) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert load_checkpoint(run / "last.safetensors").meta["epoch"] == 1


# --- the package -------------------------------------------------------------------------------


def test_subpackages_are_reachable_from_the_top_level():
    import striate as st

    assert st.models.lenet5().__class__.__name__ == "LeNet5"
    assert st.optim.SGD and st.data.DataLoader and st.nn.Conv2d
    assert {"models", "optim", "data", "nn"} <= set(dir(st))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        st.nope  # noqa: B018


def test_sigkill_mid_run_leaves_a_loadable_checkpoint_and_resume_ends_the_same(tiny_fmnist,
                                                                                 tmp_path):
    import subprocess
    import sys
    import time

    def command(out, *extra):
        return [sys.executable, "-m", "striate.cli", "train", "--dataset", "mnist",
                "--data-dir", str(tiny_fmnist), "--epochs", "4", "--batch-size", "32",
                "--out", str(out), "--no-progress", "--no-plots", *extra]

    subprocess.run(command(tmp_path / "straight"), check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "last.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait()
    assert load_checkpoint(killed / "last.safetensors").meta["epoch"] >= 1
    assert main(["train", "--resume", str(killed), "--no-progress", "--no-plots"]) == 0
    a = load_checkpoint(tmp_path / "straight" / "last.safetensors").model_state
    b = load_checkpoint(killed / "last.safetensors").model_state
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len((killed / "metrics.csv").read_text().splitlines()) == 5
