"""``striate evaluate``: accuracy, per-class accuracy and confusion matrix of a trained model."""

from __future__ import annotations

import argparse


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
    from ..data import DataLoader, Normalizer, get_dataset
    from ..data.errors import DatasetError
    from ..errors import UserError
    from ..train.checkpoint import load_checkpoint
    from ..train.experiment import model_from_checkpoint
    from ..train.metrics import confusion_matrix, per_class_accuracy
    from ..train.trainer import evaluate

    checkpoint = load_checkpoint(args.checkpoint)
    meta = checkpoint.meta
    name = args.dataset or meta["dataset"]
    try:
        dataset = get_dataset(name, args.split, data_dir=args.data_dir)
    except DatasetError as e:
        raise UserError(str(e)) from None
    if list(dataset.image_shape) != list(meta["image_shape"]):
        raise UserError(f"{name} images are {dataset.image_shape} but the model was trained on "
                        f"{tuple(meta['image_shape'])}")
    model = model_from_checkpoint(checkpoint)
    loader = DataLoader(dataset, batch_size=args.batch_size,
                        transform=Normalizer.from_state_dict(meta["normalizer"]))
    metrics, labels, preds = evaluate(model, loader)
    classes = meta.get("classes") or [str(i) for i in range(meta["model"]["num_classes"])]
    matrix = confusion_matrix(labels, preds, len(classes))
    print(f"{meta['model']['name']} on {name} {args.split} ({len(dataset)} images): "
          f"accuracy {metrics.accuracy:.4f}, top-5 {metrics.top5:.4f}, loss {metrics.loss:.4f}")
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
