"""``striate export``: a trained model's weights for PyTorch (``.pt``, ``.safetensors``) or ONNX.

The checkpoint (or run folder) is read and its model rebuilt as ``striate evaluate`` does, then
written without the training state: ``safetensors`` and ``pt`` hold the model's plain
``state_dict()`` under PyTorch's key names, which the model's PyTorch twin loads with
``load_state_dict``; ``onnx`` is the inference graph (``striate.interop.onnx.export``).  The
safetensors header also carries, as JSON strings, what it takes to use the weights: the model's
name and builder arguments, the class names and the input normalisation.  Every file is written
atomically, so an interrupted export leaves no partial file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

FORMATS = {".safetensors": "safetensors", ".pt": "pt", ".pth": "pt", ".onnx": "onnx"}
ONNX_OPSET = 17
NEEDS_ONNX = "ONNX export needs the onnx package: pip install 'striate[onnx]'"
NEEDS_TORCH = "pt export needs torch: pip install torch"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a checkpoint's model as ONNX, safetensors or PyTorch weights",
        description="Rebuild the model of a checkpoint (or a run folder's best/last checkpoint) "
                    "and write it for other tools: its state_dict with PyTorch's key names "
                    "(safetensors or pt, without optimiser state), or an ONNX inference graph.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--format", choices=sorted(set(FORMATS.values())), default=None,
                   help="what to write (default: from the suffix of --out)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write (its folder is created)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..nn.utils import unfuse
    from ..train.checkpoint import load_checkpoint
    from ..train.restore import model_from_checkpoint

    out = Path(args.out).expanduser()
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name")
    fmt = output_format(out, args.format)
    library = _onnx_interop() if fmt == "onnx" else _torch() if fmt == "pt" else None
    checkpoint = load_checkpoint(args.checkpoint)
    _refuse_run_files(out, checkpoint.path)
    model = unfuse(model_from_checkpoint(checkpoint))  # plain layers: the textbook graph
    meta = checkpoint.meta
    normalization = _normalization(meta["normalizer"])
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        from ..interop.safetensors import save_file

        save_file(model.state_dict(), out, export_metadata(meta, normalization))
    elif fmt == "pt":
        from ..fileio import atomic_write

        state = {k: library.from_numpy(np.array(v, copy=True))
                 for k, v in model.state_dict().items()}
        with atomic_write(out) as f:
            library.save(state, f)
    else:
        _write_onnx(library, model, meta, normalization, out)
    print(f"wrote {out} ({meta['model']['name']}, {fmt})")
    return 0


def _write_onnx(interop: Any, model: Any, meta: dict[str, Any], normalization: dict[str, Any],
                out: Path) -> None:
    """The inference graph for a batch of any size, taking images scaled as in training but not
    normalised (the normalisation is the graph's first step)."""
    from ..fileio import atomic_path

    example = np.zeros((1, *meta["image_shape"]), np.float32)
    mean_std = tuple(np.asarray(normalization[k], np.float32) for k in ("mean", "std"))
    with atomic_path(out) as tmp:
        try:
            interop.export(model, example, tmp, opset=ONNX_OPSET, dynamic_batch=True,
                           normalization=mean_std, class_names=list(meta["classes"]))
        except ImportError as e:
            if not _is_onnx(e):
                raise
            raise UserError(NEEDS_ONNX) from None
        except interop.ONNXExportError as e:
            raise UserError(f"cannot export {meta['model']['name']} as ONNX: {e}") from None


def output_format(out: Path, fmt: str | None) -> str:
    """``--format``, or the one ``--out``'s suffix names; each must agree with the other."""
    implied = FORMATS.get(out.suffix.lower())
    if fmt is None:
        if implied is None:
            raise UserError(f"--out {out}: cannot tell the format from its suffix; name it "
                            ".onnx, .safetensors or .pt, or give --format")
        return implied
    if implied != fmt:
        wanted = " or ".join(s for s, f in FORMATS.items() if f == fmt)
        raise UserError(f"--out {out}: a {fmt} file should end in {wanted}")
    return fmt


def export_metadata(meta: dict[str, Any], normalization: dict[str, Any]) -> dict[str, str]:
    """The safetensors header's strings: what a reader needs besides the weights (JSON)."""
    from ..train.model_args import MODEL_SIZE_ARGS

    info = meta["model"]
    args = {**info.get("args", {}), **{key: info[key] for key in MODEL_SIZE_ARGS}}
    return {"format": "pt", "model": info["name"], "model_args": json.dumps(args),
            "classes": json.dumps(list(meta["classes"])),
            "normalization": json.dumps(normalization)}


def _normalization(state: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's input normalisation as ``(x · scale − mean) / std``, per channel (or
    per pixel), with std as applied (see ``Normalizer.divisor``)."""
    from ..data import Normalizer

    normalizer = Normalizer.from_state_dict(state)
    return {"mode": normalizer.mode, "scale": normalizer.scale,
            "mean": normalizer.mean.tolist(), "std": normalizer.divisor().tolist()}


def _refuse_run_files(out: Path, checkpoint: Path | None) -> None:
    """Never write over the checkpoint read, nor the run folder's other checkpoint."""
    if checkpoint is None or not out.exists():
        return
    for run_file in (checkpoint, checkpoint.parent / "best.safetensors",
                     checkpoint.parent / "last.safetensors"):
        if run_file.exists() and out.samefile(run_file):
            raise UserError(f"--out {out}: would overwrite the run's checkpoint {run_file}; "
                            "choose another file")


def _onnx_interop() -> Any:
    """``striate.interop.onnx``, or the UserError saying how to install what it needs."""
    import importlib.util

    try:
        if importlib.util.find_spec("onnx") is None:
            raise UserError(NEEDS_ONNX)
        from ..interop import onnx
    except ImportError as e:
        if not _is_onnx(e):
            raise
        raise UserError(NEEDS_ONNX) from None
    return onnx


def _is_onnx(error: ImportError) -> bool:
    """Whether the missing module is the onnx package or striate's ONNX exporter."""
    name = error.name or ""
    return name.split(".")[0] in ("onnx", "onnxscript") or name.startswith("striate.interop.onnx")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise UserError(NEEDS_TORCH) from None
    return torch
