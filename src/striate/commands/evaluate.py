"""``striate evaluate``: accuracy, per-class precision, recall and F1, and the confusion matrix
of a trained model, as text or (``--json``) as one JSON object."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from . import DATA_DIR_HELP


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint or run folder on a dataset split",
        description="Load a checkpoint (or a run folder's best/last checkpoint) and print its "
                    "accuracy, per-class precision, recall (the per-class accuracy) and F1 "
                    "with their macro averages, and the confusion matrix on a dataset split.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT",
                   help="a run folder, a checkpoint, or an exported .onnx file (with --dataset)")
    p.add_argument("--dataset", default=None, help="dataset (default: the one it was trained on)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--split", default="test", choices=("train", "test"),
                   help="which split to evaluate")
    p.add_argument("--batch-size", type=int, default=512, help="images per batch")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead: the checkpoint, dataset and split, "
                        "accuracy, top-5 and loss, precision/recall/F1/support per class and "
                        "their macro averages, and the confusion matrix")
    p.set_defaults(run=run)


def _as_float32(batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Images as float32, 8-bit ones scaled to [0, 1] as training scaled them (``Normalizer``'s
    default): an exported file standardises them itself."""
    scale = 1 / 255 if np.asarray(batch).dtype == np.uint8 else 1.0
    return np.asarray(batch, dtype=np.float32) * np.float32(scale)


def run(args: argparse.Namespace) -> int:
    from ..data import DataLoader, Normalizer
    from ..errors import UserError
    from ..train.checkpoint import load_checkpoint
    from ..train.config import TrainConfig
    from ..train.datasets import describe_test_set, open_split
    from ..train.metrics import confusion_matrix
    from ..train.restore import model_from_checkpoint
    from ..train.trainer import evaluate

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise UserError(f"--data-dir {args.data_dir}: no such folder")
    if Path(args.checkpoint).suffix.lower() == ".onnx":  # an exported model
        from .predict import open_onnx

        if args.dataset is None:
            raise UserError("--dataset is required to evaluate an .onnx file")
        model = open_onnx(args.checkpoint)
        config = TrainConfig(dataset=args.dataset, data_dir=args.data_dir)
        dataset = open_split(config, args.split)
        image_shape, name = list(model.input_shape), Path(args.checkpoint).name
        classes = model.class_names or [str(i) for i in range(dataset.num_classes)]
        transform = _as_float32
    else:
        checkpoint = load_checkpoint(args.checkpoint)
        meta = checkpoint.meta
        saved = TrainConfig.from_meta(meta, args.checkpoint)
        config = dataclasses.replace(saved, dataset=args.dataset or saved.dataset,
                                     data_dir=args.data_dir or (None if args.dataset else
                                                                saved.data_dir))
        dataset = open_split(config, args.split)
        image_shape, name, classes = meta["image_shape"], meta["model"]["name"], meta["classes"]
        model = model_from_checkpoint(checkpoint)
        transform = Normalizer.from_state_dict(meta["normalizer"])
    if list(dataset.image_shape) != list(image_shape):
        raise UserError(f"{config.dataset} images are {tuple(dataset.image_shape)} but the model "
                        f"was trained on {tuple(image_shape)}")
    if dataset.num_classes != len(classes):
        raise UserError(f"{config.dataset} has {dataset.num_classes} classes but the model "
                        f"was trained on {len(classes)}")
    loader = DataLoader(dataset, batch_size=args.batch_size, transform=transform)
    metrics, labels, preds = evaluate(model, loader)
    matrix = confusion_matrix(labels, preds, len(classes))
    test_set = describe_test_set(config, dataset) if args.split == "test" else None
    if args.json:
        print(json.dumps(report(args, name, config.dataset, len(dataset), metrics, classes,
                                matrix, test_set)))
        return 0
    print(f"{name} on {config.dataset} {args.split} ({len(dataset)} images): "
          f"accuracy {metrics.accuracy:.4f}, top-5 {metrics.top5:.4f}, loss {metrics.loss:.4f}")
    if test_set:
        print(test_set)
    print_class_table(classes, matrix)
    print("\nconfusion matrix (rows: true class, columns: predicted):")
    width = max(len(c) for c in classes)
    cell = max(5, len(str(matrix.max())) + 1)
    print(" " * (width + 2) + "".join(f"{i:>{cell}}" for i in range(len(classes))))
    for i, c in enumerate(classes):
        print(f"  {c:<{width}}" + "".join(f"{v:>{cell}}" for v in matrix[i]))
    return 0


def print_class_table(classes: list[str], matrix: np.ndarray) -> None:
    """Precision, recall (the per-class accuracy), F1 and support of each class, and their
    unweighted means over the classes (macro averages, scikit-learn's ``average="macro"``)."""
    from ..train.metrics import precision_recall_f1

    precision, recall, f1, support = precision_recall_f1(matrix)
    width = max(len(c) for c in (*classes, "macro avg"))
    print("\nper class (recall = per-class accuracy):")
    print(f"  {'':<{width}}  precision  recall      f1  support")
    rows = zip(classes, precision, recall, f1, support, strict=True)
    for c, p, r, f, n in [*rows, ("macro avg", precision.mean(), recall.mean(), f1.mean(),
                                  support.sum())]:
        print(f"  {c:<{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {n:7d}")


def report(args: argparse.Namespace, model: str, dataset: str, images: int, metrics,
           classes: list[str], matrix: np.ndarray, test_set: str | None) -> dict:
    """What ``--json`` prints: the text output's figures as one JSON-safe object."""
    from ..train.metrics import json_safe, precision_recall_f1

    precision, recall, f1, support = precision_recall_f1(matrix)
    per_class = {c: {"precision": float(p), "recall": float(r), "f1": float(f),
                     "support": int(n)}
                 for c, p, r, f, n in zip(classes, precision, recall, f1, support, strict=True)}
    return json_safe({
        "checkpoint": str(args.checkpoint), "model": model, "dataset": dataset,
        "split": args.split, "test_set": test_set, "images": images,
        "accuracy": float(metrics.accuracy), "top5": float(metrics.top5),
        "loss": float(metrics.loss), "classes": list(classes), "per_class": per_class,
        "macro_avg": {"precision": float(precision.mean()), "recall": float(recall.mean()),
                      "f1": float(f1.mean())},
        "confusion_matrix": matrix.tolist()})
