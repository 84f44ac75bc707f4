"""After training: the plots of a run and the ``index.html`` that shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..data import fetch_batch
from ..nn.conv import Conv2d
from ..tensor import Tensor, no_grad
from .metrics import per_class_accuracy


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


def write_run_report(trainer, test_set, test_loader, labels: np.ndarray, preds: np.ndarray,
                     matrix: np.ndarray, classes: list[str], summary: dict[str, Any]) -> Path:
    """Curves, confusion matrix, filters, feature maps, misclassified examples, index.html."""
    from .. import viz

    run_dir = trainer.run_dir
    images: list[tuple[str, str]] = []
    viz.plot_curves(trainer.history, run_dir / "curves.png")
    images.append(("curves.png", "Loss and accuracy per epoch"))
    viz.plot_confusion(matrix, classes, run_dir / "confusion.png")
    images.append(("confusion.png", "Confusion matrix on the test set (rows: true class)"))
    conv = first_conv(trainer.model)
    if conv is not None:
        viz.plot_filters(to_numpy(conv.weight.data), run_dir / "filters.png")
        images.append(("filters.png", "Learned first-layer filters"))
        first, _ = fetch_batch(test_set, np.arange(1))
        viz.plot_feature_maps(first[0].astype(np.float32), feature_maps(
            trainer.model, test_loader.transform(first)[0]), run_dir / "feature_maps.png")
        images.append(("feature_maps.png", "Feature maps of the first conv layers, one test image"))
    wrong = np.flatnonzero(labels != preds)[:25]
    if len(wrong):
        viz.plot_misclassified(fetch_batch(test_set, wrong)[0].astype(np.float32), labels[wrong],
                               preds[wrong], classes, run_dir / "misclassified.png")
        images.append(("misclassified.png", "Misclassified test images: true → predicted"))
    accuracy = per_class_accuracy(matrix)
    rows = [(c, f"{a:.4f}", int(matrix[i].sum())) for i, (c, a) in enumerate(zip(classes, accuracy,
                                                                               strict=True))]
    tables = [("Per-class test accuracy", rows, ("class", "accuracy", "examples"))]
    return viz.write_report(run_dir, f"{summary['model']} on {summary['dataset']}", summary,
                            images, tables)
