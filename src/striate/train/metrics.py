"""Classification metrics and the per-epoch metrics log (CSV and JSON lines)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> int:
    """How many rows have their label among the k largest logits."""
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[i, j] = number of examples of true class i predicted as class j."""
    return np.bincount(labels * num_classes + predictions,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Each class's share of its examples predicted right (its recall); 0 for an absent class."""
    totals = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), totals, out=np.zeros(len(matrix)), where=totals > 0)


def precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (rows: true class).

    With TP = matrix[k, k]: precision = TP / Σᵢ matrix[i, k] (column: predicted k), recall =
    TP / Σⱼ matrix[k, j] (row: truly k), F1 = 2·P·R / (P + R), support = the row sum.  A ratio
    with nothing to divide by is 0, as scikit-learn's ``zero_division=0`` gives it.
    """
    m = np.asarray(matrix, dtype=np.float64)
    tp, predicted, support = np.diag(m), m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1, support.astype(np.int64)


class RunningMetrics:
    """Sums over the batches of one epoch: mean loss, top-1 and top-5 accuracy."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.count = 0
        self.correct = 0
        self.correct5 = 0

    def update(self, loss: float, logits: np.ndarray, labels: np.ndarray) -> None:
        n = len(labels)
        self.loss_sum += loss * n
        self.count += n
        self.correct += int((logits.argmax(axis=1) == labels).sum())
        self.correct5 += topk_correct(logits, labels, 5)

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.count, 1)

    @property
    def top5(self) -> float:
        return self.correct5 / max(self.count, 1)


def json_safe(tree: Any) -> Any:
    """``tree`` with NaN and infinities as None: JSON has no such numbers (``null`` is valid)."""
    if isinstance(tree, float) and not math.isfinite(tree):
        return None
    if isinstance(tree, dict):
        return {k: json_safe(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [json_safe(v) for v in tree]
    return tree


class MetricsLog:
    """Appends one row per epoch to ``metrics.csv`` and ``metrics.jsonl`` in the run folder."""

    def __init__(self, run_dir: Path):
        self.csv_path = run_dir / "metrics.csv"
        self.jsonl_path = run_dir / "metrics.jsonl"

    def append(self, row: dict[str, Any]) -> None:
        new = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        with self.jsonl_path.open("a") as f:
            f.write(json.dumps(json_safe(row), allow_nan=False) + "\n")

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace both files by ``rows``: a resumed run's log is its checkpoint's history, so a
        kill between a checkpoint and its log row, or rows of epochs done after it, leave no
        trace."""
        self.csv_path.unlink(missing_ok=True)
        self.jsonl_path.unlink(missing_ok=True)
        for row in rows:
            self.append(row)
