"""``striate predict``: the top classes of images according to a trained model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="classify image files with a checkpoint",
        description="Print the most probable classes of each image (PNG/JPEG through Pillow, or "
                    ".npy arrays of shape (H, W), (C, H, W) or (H, W, C)). Images are converted to "
                    "the model's channels and size and normalised with the training statistics. "
                    "An image unlike the training images (inverted, blank, values in another "
                    "range), judged by the training statistics the checkpoint keeps (see "
                    "striate.data.input_check), gets a warning on stderr.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT",
                   help="a run folder, a checkpoint, or an exported .onnx file")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files, or folders whose image files are all classified")
    p.add_argument("--top", type=int, default=3, help="how many classes to print per image")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per line and image instead: image, top classes "
                        "with their index and probability, and warning (null, or why the "
                        "image looks unlike the training images)")
    p.set_defaults(run=run)


def load_image(path: Path, channels: int, size: int) -> np.ndarray:
    """An image file as a (channels, size, size) float array with values 0..255."""
    if not path.is_file():
        raise UserError(f"{path}: no such image file")
    if path.suffix == ".npy":
        try:  # mapped, so a header claiming more data than the file holds is refused unread
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{path}: not a readable .npy array ({e})") from None
        if array.ndim == 2:
            array = array[None]
        elif array.ndim == 3 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
            array = array.transpose(2, 0, 1)
        if array.shape != (channels, size, size) or array.dtype.kind not in "biuf":
            raise UserError(f"{path}: array of shape {array.shape} and dtype {array.dtype}, the "
                            f"model expects numbers of shape {(channels, size, size)}")
        return np.array(array, dtype=np.float32)
    from ..data import DatasetError
    from ..data.image_file import read_image

    try:
        return read_image(path, "L" if channels == 1 else "RGB", (size, size)).astype(np.float32)
    except DatasetError as e:
        raise UserError(str(e)) from None


def image_paths(arguments: list[str]) -> list[Path]:
    """The files named, with each folder replaced by its image and .npy files (sorted)."""
    from ..data.folder import IMAGE_EXTENSIONS

    paths = []
    for argument in arguments:
        path = Path(argument)
        if not path.is_dir():
            paths.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in (*IMAGE_EXTENSIONS, ".npy"))
        if not found:
            raise UserError(f"{path}: the folder holds no image files")
        paths += found
    return paths


def open_onnx(path: str):
    """An exported ``.onnx`` classifier (``interop.onnx.open_classifier``): it takes 8-bit
    images scaled to [0, 1], as training scaled them (``striate export`` puts the
    standardisation in the graph)."""
    from ..interop.onnx import ONNXImportError
    from ..interop.onnx.runtime import open_classifier

    try:
        model = open_classifier(path)
    except ONNXImportError as e:
        raise UserError(str(e)) from None
    except ImportError:
        raise UserError(f"{path}: reading an .onnx file needs onnxruntime or onnx "
                        "(pip install striate[onnx])") from None
    if len(model.input_shape) != 3 or model.input_shape[1] != model.input_shape[2] \
            or min(model.input_shape) < 1:
        raise UserError(f"{path}: the model's input is {model.input_shape}, not square "
                        "(C, H, W) images")
    return model


def run(args: argparse.Namespace) -> int:
    from ..data import Normalizer
    from ..nn import functional as F
    from ..tensor import Tensor, no_grad
    from ..train.checkpoint import load_checkpoint
    from ..train.restore import model_from_checkpoint

    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    paths = image_paths(args.images)
    if Path(args.checkpoint).suffix.lower() == ".onnx":  # no training statistics to check with
        model = open_onnx(args.checkpoint)
        channels, size = model.input_shape[0], model.input_shape[-1]
        batch = np.stack([load_image(p, channels, size) for p in paths]) / np.float32(255)
        classes, warnings = model.class_names, [None] * len(paths)
    else:
        from ..data.input_check import input_warnings

        checkpoint = load_checkpoint(args.checkpoint)
        meta = checkpoint.meta
        channels, size = meta["model"]["in_channels"], meta["model"]["input_size"]
        batch = np.stack([load_image(p, channels, size) for p in paths])
        normalizer = Normalizer.from_state_dict(meta["normalizer"])
        warnings = input_warnings(batch, normalizer)
        batch = normalizer(batch)
        model, classes = model_from_checkpoint(checkpoint), meta.get("classes")
    with no_grad():
        probs = F.softmax(model(Tensor(batch)), dim=1).numpy()
    classes = classes or [str(i) for i in range(probs.shape[1])]
    for path, p, warning in zip(paths, probs, warnings, strict=True):
        order = np.argsort(-p)[:args.top]
        if warning:
            print(f"striate predict: warning: {path}: {warning}", file=sys.stderr)
        if args.json:
            top = [{"class": classes[k], "index": int(k), "probability": float(p[k])}
                   for k in order]
            print(json.dumps({"image": str(path), "top": top, "warning": warning}))
        else:
            print(f"{path}: " + ", ".join(f"{classes[k]} {p[k]:.3f}" for k in order))
    return 0
