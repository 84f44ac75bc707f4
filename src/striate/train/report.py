"""After training: the plots of a run and the ``index.html`` that shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..data import fetch_batch
from ..nn.conv import Conv2d
from ..tensor import Tensor, no_grad
from .metrics import precision_recall_f1


def first_conv(model) -> Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, Conv2d)), None)


def feature_maps(model, image: np.ndarray, limit: int = 4) -> list[tuple[str, np.ndarray]]:
    """The outputs of the first ``limit`` conv layers for one (normalised) image."""
    captured: list[tuple[str, np.ndarray]] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, Conv2d) and len(handles) < limit:
            handles.append(module.register_forward_hook(
                lambda m, inputs, out, name=name: captured.append((name, to_numpy(out.data)[0]))))
    model.eval()
    with no_grad():
        model(Tensor(image[None]))
    for h in handles:
        h.remove()
    return captured


# How the report names the summary's keys (summary.json keeps the keys).
SUMMARY_LABELS = {
    "model": "Model", "dataset": "Dataset", "epochs": "Epochs trained",
    "test_accuracy": "Test accuracy", "test_top5": "Test top-5 accuracy",
    "test_loss": "Test loss", "best_val_accuracy": "Best validation accuracy",
    "test_set": "Test set", "train_seconds": "Training time", "command": "Command",
}
# The per-epoch table's columns, in this order, and their headings.
EPOCH_COLUMNS = {
    "epoch": "epoch", "train_loss": "train loss", "train_acc": "train accuracy",
    "val_loss": "val loss", "val_acc": "val accuracy", "val_top5": "val top-5",
    "lr": "learning rate (last step)", "seconds": "seconds",
}


def readable_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` with labels for people: accuracies as percentages, the time in minutes."""
    out = {}
    for key, value in summary.items():
        if key.endswith(("accuracy", "top5")) and isinstance(value, float):
            value = f"{100 * value:.2f} %" if value >= 0 else None  # −1: no validation set
        elif key == "train_seconds" and isinstance(value, (int, float)):
            minutes, seconds = divmod(float(value), 60)
            value = f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"
        out[SUMMARY_LABELS.get(key, key.replace("_", " ").capitalize())] = value
    return out


def epoch_table(history: list[dict[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """The per-epoch history as table rows, with the columns any epoch has."""
    keys = [k for k in EPOCH_COLUMNS if any(k in row for row in history)]
    return [[row.get(k) for k in keys] for row in history], [EPOCH_COLUMNS[k] for k in keys]


def class_table(matrix: np.ndarray, classes: list[str]) -> tuple[list[list[Any]], list[str]]:
    """Per-class precision, recall and F1 (from the confusion matrix) as table rows."""
    precision, recall, f1, support = precision_recall_f1(matrix)
    rows = [[c, precision[i], recall[i], f1[i], int(support[i])]
            for i, c in enumerate(classes)]
    return rows, ["class", "precision", "recall", "F1", "examples"]


def confidences(model, test_loader, images: np.ndarray) -> np.ndarray:
    """The model's softmax probabilities (N, K) for raw test ``images``."""
    from ..nn import functional as F

    model.eval()
    with no_grad():
        logits = model(Tensor(test_loader.transform(images)))
        return to_numpy(F.softmax(logits, dim=1).data)


def write_run_report(trainer, test_set, test_loader, labels: np.ndarray, preds: np.ndarray,
                     matrix: np.ndarray, classes: list[str], summary: dict[str, Any]) -> Path:
    """Curves (the rate of every step), confusion matrix, filters, feature maps, misclassified
    examples with their confidence, and index.html: the summary, the hyperparameters, per-epoch
    and per-class tables, the model summary and links to every file of the run."""
    from .. import viz
    from ..nn.summary import format_summary

    run_dir = trainer.run_dir
    images: list[tuple[str, str]] = []
    steps = -(-len(trainer.train_loader) // trainer.accumulate)
    viz.plot_curves(trainer.history, run_dir / "curves.png", trainer.lr_steps, steps)
    images.append(("curves.png", "Loss and accuracy per epoch; the learning rate of every step"))
    viz.plot_confusion(matrix, classes, run_dir / "confusion.png")
    images.append(("confusion.png", "Confusion matrix on the test set (rows: true class)"))
    conv = first_conv(trainer.model)
    if conv is not None:
        viz.plot_filters(to_numpy(conv.weight.data), run_dir / "filters.png")
        images.append(("filters.png", "Learned first-layer filters, on one colour scale"))
        first, _ = fetch_batch(test_set, np.arange(1))
        viz.plot_feature_maps(first[0].astype(np.float32), feature_maps(
            trainer.model, test_loader.transform(first)[0]), run_dir / "feature_maps.png")
        images.append(("feature_maps.png", "Feature maps of the first conv layers, one test image"))
    wrong = np.flatnonzero(labels != preds)[:25]
    if len(wrong):
        raw = fetch_batch(test_set, wrong)[0]
        viz.plot_misclassified(raw.astype(np.float32), labels[wrong], preds[wrong], classes,
                               run_dir / "misclassified.png",
                               probs=confidences(trainer.model, test_loader, raw))
        images.append(("misclassified.png",
                       "Misclassified test images: true → predicted (the model's confidence)"))
    config = trainer.meta.get("config", {})
    settings = [("Hyperparameters", {k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                     for k, v in config.items()})]
    tables = [("Per epoch", *epoch_table(trainer.history)),
              ("Per class, on the test set", *class_table(matrix, classes))]
    texts = [("Model", format_summary(trainer.model, tuple(trainer.meta["image_shape"])))]
    return viz.write_report(run_dir, f"{summary['model']} on {summary['dataset']}",
                            readable_summary(summary), images, tables, settings=settings,
                            texts=texts, files=True)
