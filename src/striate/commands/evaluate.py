"""``striate evaluate``: accuracy, per-class accuracy and confusion matrix of a trained model."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint or run folder on a dataset split",
        description="Load a checkpoint (or a run folder's best/last checkpoint) and print its "
                    "accuracy, per-class accuracy and confusion matrix on a dataset split.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--dataset", default=None, help="dataset (default: the one it was trained on)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--batch-size", type=int, default=512)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..data import DataLoader, Normalizer
    from ..errors import UserError
    from ..train.checkpoint import load_checkpoint
    from ..train.config import TrainConfig
    from ..train.datasets import describe_test_set, open_split
    from ..train.metrics import confusion_matrix, per_class_accuracy
    from ..train.restore import model_from_checkpoint
    from ..train.trainer import evaluate

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise UserError(f"--data-dir {args.data_dir}: no such folder")
    checkpoint = load_checkpoint(args.checkpoint)
    meta = checkpoint.meta
    saved = TrainConfig.from_meta(meta, args.checkpoint)
    config = dataclasses.replace(saved, dataset=args.dataset or saved.dataset,
                                 data_dir=args.data_dir or (None if args.dataset else
                                                            saved.data_dir))
    dataset = open_split(config, args.split)
    if list(dataset.image_shape) != list(meta["image_shape"]):
        raise UserError(f"{config.dataset} images are {tuple(dataset.image_shape)} but the model "
                        f"was trained on {tuple(meta['image_shape'])}")
    classes = meta["classes"]
    if dataset.num_classes != len(classes):
        raise UserError(f"{config.dataset} has {dataset.num_classes} classes but the model "
                        f"was trained on {len(classes)}")
    model = model_from_checkpoint(checkpoint)
    loader = DataLoader(dataset, batch_size=args.batch_size,
                        transform=Normalizer.from_state_dict(meta["normalizer"]))
    metrics, labels, preds = evaluate(model, loader)
    matrix = confusion_matrix(labels, preds, len(classes))
    print(f"{meta['model']['name']} on {config.dataset} {args.split} ({len(dataset)} images): "
          f"accuracy {metrics.accuracy:.4f}, top-5 {metrics.top5:.4f}, loss {metrics.loss:.4f}")
    if args.split == "test":
        print(describe_test_set(config, dataset))
    print("\nper-class accuracy:")
    width = max(len(c) for c in classes)
    for c, a, n in zip(classes, per_class_accuracy(matrix), matrix.sum(axis=1), strict=True):
        print(f"  {c:<{width}}  {a:.4f}  ({n} images)")
    print("\nconfusion matrix (rows: true class, columns: predicted):")
    cell = max(5, len(str(matrix.max())) + 1)
    print(" " * (width + 2) + "".join(f"{i:>{cell}}" for i in range(len(classes))))
    for i, c in enumerate(classes):
        print(f"  {c:<{width}}" + "".join(f"{v:>{cell}}" for v in matrix[i]))
    return 0
