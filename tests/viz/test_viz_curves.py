"""plot_curves: loss/accuracy/lr panels from a per-epoch history."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from viz_png import assert_png  # noqa: E402

from striate.viz import plot_curves  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


def _history(epochs, val=True, lr=True):
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 2.0 / e, "train_acc": 1 - 0.5 / e}
        if val:
            row.update(val_loss=2.2 / e, val_acc=1 - 0.6 / e)
        if lr:
            row["lr"] = 0.1 * 0.5 ** (e // 3)
        rows.append(row)
    return rows


@pytest.mark.parametrize("epochs", [1, 2, 12, 60])
def test_full_history(tmp_path, epochs):
    path = tmp_path / "curves.png"
    width, height = assert_png(path, plot_curves(_history(epochs), path))
    assert width > 2 * height  # three panels side by side


def test_without_val_or_lr_is_two_panels(tmp_path):
    path = tmp_path / "c.png"
    width, _ = assert_png(path, plot_curves(_history(5, val=False, lr=False), path))
    three, _ = assert_png(tmp_path / "d.png",
                          plot_curves(_history(5, val=False), tmp_path / "d.png"))
    assert width < three


def test_val_none_in_some_epochs_and_numpy_scalars(tmp_path):
    history = _history(6)
    for row in history[::2]:
        row["val_loss"] = row["val_acc"] = None
    history[1]["train_loss"] = np.float32(0.7)
    history[3]["epoch"] = np.int64(4)
    assert_png(tmp_path / "c.png", plot_curves(history, tmp_path / "c.png"))


def test_all_val_none_and_missing_epoch_key(tmp_path):
    history = [{"train_loss": 1.0, "train_acc": 0.5, "val_loss": None, "val_acc": None},
               {"train_loss": 0.8, "train_acc": 0.6, "val_loss": None, "val_acc": None}]
    assert_png(tmp_path / "c.png", plot_curves(history, tmp_path / "c.png"))


def test_constant_values_and_nan(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": float("nan"),
                "val_acc": 0.5, "lr": 0.01} for e in range(1, 4)]
    assert_png(tmp_path / "c.png", plot_curves(history, tmp_path / "c.png"))


def test_only_lr(tmp_path):
    history = [{"epoch": 1, "lr": 0.1}, {"epoch": 2, "lr": 0.05}]
    assert_png(tmp_path / "c.png", plot_curves(history, tmp_path / "c.png"))


def test_creates_parent_directories(tmp_path):
    path = tmp_path / "run" / "plots" / "curves.png"
    assert_png(path, plot_curves(_history(3), path))


def test_rejects_bad_history(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        plot_curves([], tmp_path / "c.png")
    with pytest.raises(ValueError, match="non-empty"):
        plot_curves({"epoch": 1}, tmp_path / "c.png")
    with pytest.raises(TypeError, match="dict"):
        plot_curves([{"epoch": 1}, 3], tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []
