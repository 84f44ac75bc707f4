"""``striate predict``: the top classes of images according to a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="classify image files with a checkpoint",
        description="Print the most probable classes of each image (PNG/JPEG through Pillow, or "
                    ".npy arrays of shape (H, W), (C, H, W) or (H, W, C)). Images are converted to "
                    "the model's channels and size and normalised with the training statistics.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=3, help="how many classes to print per image")
    p.set_defaults(run=run)


def load_image(path: Path, channels: int, size: int) -> np.ndarray:
    """An image file as a (channels, size, size) float array with values 0..255."""
    if not path.is_file():
        raise UserError(f"{path}: no such image file")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False).astype(np.float32)
        except ValueError as e:
            raise UserError(f"{path}: not a readable .npy array ({e})") from None
        if array.ndim == 2:
            array = array[None]
        elif array.ndim == 3 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
            array = array.transpose(2, 0, 1)
        if array.shape != (channels, size, size):
            raise UserError(f"{path}: array of shape {array.shape}, the model expects "
                            f"{(channels, size, size)}")
        return array
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise UserError("reading image files needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB").resize((size, size))
            array = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise UserError(f"{path}: not a readable image ({e})") from None
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def run(args: argparse.Namespace) -> int:
    from ..data import Normalizer
    from ..nn import functional as F
    from ..tensor import Tensor, no_grad
    from ..train.checkpoint import load_checkpoint
    from ..train.experiment import model_from_checkpoint

    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    checkpoint = load_checkpoint(args.checkpoint)
    meta = checkpoint.meta
    channels, size = meta["model"]["in_channels"], meta["model"]["input_size"]
    batch = np.stack([load_image(Path(p), channels, size) for p in args.images])
    model = model_from_checkpoint(checkpoint)
    with no_grad():
        probs = F.softmax(model(Tensor(Normalizer.from_state_dict(meta["normalizer"])(batch))),
                          dim=1).numpy()
    classes = meta.get("classes") or [str(i) for i in range(probs.shape[1])]
    for path, p in zip(args.images, probs, strict=True):
        order = np.argsort(-p)[:args.top]
        print(f"{path}: " + ", ".join(f"{classes[k]} {p[k]:.3f}" for k in order))
    return 0
