"""``striate deconvnet``: learn a Deconvolutional Network on a dataset, infer the maps of
images with it, and draw its pictures.

``train`` learns the layers greedily (layer l + 1 on layer l's pooled maps), saving
``deconvnet.safetensors`` after every epoch of every layer (atomically: Ctrl-C keeps the last
one), ``cost.csv`` and the PNGs of ``striate.deconvnet.show``.  Images are scaled to [0, 1] and
then brought to zero mean and unit contrast one by one (each image's mean subtracted, divided by
its standard deviation), as the Deconvolutional Networks paper prepares its inputs: a
per-dataset normaliser would leave the cost's balance between λ and the sparsity term depending
on each image's brightness and contrast.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..fileio import atomic_write
from . import DATA_DIR_HELP

NORMALIZATION = {"mode": "image", "scale": 255.0, "min_std": 1e-3}
LOCAL_WINDOW = 9  # Jarrett's 9 × 9 Gaussian window for --normalize local


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "deconvnet", help="Deconvolutional Networks: learn, infer maps, draw",
        description="Deconvolutional Networks (Zeiler et al., CVPR 2010): sparse feature maps "
                    "that rebuild their input through learned filters, with no encoder.")
    commands = p.add_subparsers(dest="deconvnet_command", metavar="COMMAND")
    commands.required = True

    from ..deconvnet.connectivity import KINDS

    t = commands.add_parser(
        "train", help="learn the layers greedily on a dataset",
        description="Learn each layer in turn on the previous layer's pooled maps. The run "
                    "folder gets deconvnet.safetensors (after every epoch), cost.csv and PNGs.")
    t.add_argument("--dataset", default="fashion-mnist",
                   help="fashion-mnist, mnist, kmnist, emnist, cifar10, cifar100, or an image "
                        "folder path")
    t.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    t.add_argument("--layers", type=int, default=2, help="how many layers")
    t.add_argument("--maps", default="9,45", help="feature maps per layer, comma-separated")
    t.add_argument("--kernel-size", type=int, default=7, help="filter size k (k x k)")
    t.add_argument("--epochs", type=int, default=1, help="epochs per layer")
    t.add_argument("--limit", type=int, default=1000,
                   help="learn on the first N training images (inference is an optimisation "
                        "per image: the paper learns on a few thousand)")
    t.add_argument("--batch-size", type=int, default=100, help="images per filter update")
    t.add_argument("--lam", type=float, default=1.0, help="weight λ of the reconstruction term")
    t.add_argument("--p", type=float, default=1.0, help="sparsity exponent p (0 < p <= 1)")
    t.add_argument("--normalize", choices=("image", "local"), default="image",
                   help="input preparation: each image standardised (image), or then also "
                        "local contrast normalisation, 9x9 (local: edge and stroke filters)")
    t.add_argument("--pool", type=int, default=2, help="pooling between layers")
    t.add_argument("--connectivity", choices=KINDS, default="singles_and_doubles",
                   help="which maps below each map of layers 2.. explains (layer 1: all); the "
                        "paper's layer 2 has 9 single and 36 paired maps: 45")
    t.add_argument("--seed", type=int, default=0, help="seed of the initial filters")
    t.add_argument("--out", default=None, help="run folder (default: runs/deconvnet-DATASET)")
    t.add_argument("--overwrite", action="store_true",
                   help="start over in a run folder that holds a deconvnet already")
    t.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(run=run_train)

    i = commands.add_parser(
        "infer", help="infer the maps of images; print cost, error and sparsity per layer",
        description="Infer every layer's maps of each image (PNG/JPEG, or .npy) and print, "
                    "per layer, the cost, the relative error of the image rebuilt from that "
                    "layer's maps, and the share of non-zero map elements.")
    i.add_argument("run_dir", metavar="RUN_OR_CHECKPOINT")
    i.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files, or folders whose image files are all read")
    i.add_argument("--out", default=None, metavar="FILE",
                   help="save the maps: FILE.npz holds layer1, layer2, ...; FILE.npy holds "
                        "the last layer's (default: print the statistics only)")
    i.set_defaults(run=run_infer)

    s = commands.add_parser(
        "show", help="draw the filters, reconstructions and cost curves",
        description="Write filters_layer<l>.png, reconstructions.png (the first test images "
                    "of the run's dataset, or --images) and cost.png.")
    s.add_argument("run_dir", metavar="RUN_OR_CHECKPOINT")
    s.add_argument("--out", default=None, help="folder for the PNGs (default: the run folder)")
    s.add_argument("--images", nargs="+", default=None, metavar="IMAGE",
                   help="images to rebuild (default: the dataset's first test images)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.set_defaults(run=run_show)


# --- data -----------------------------------------------------------------------------------------


def normalization(mode: str) -> dict[str, Any]:
    """The checkpoint's ``normalization`` record for ``--normalize MODE``."""
    return dict(NORMALIZATION, mode=mode, **({"window": LOCAL_WINDOW} if mode == "local" else {}))


def normalize(pixels: np.ndarray, state: dict[str, Any] = NORMALIZATION) -> np.ndarray:
    """Each image (C, H, W) of ``pixels`` (N, C, H, W) as x = p / scale, then
    (x − mean(x)) / max(std(x), min_std) over its own pixels: zero mean, unit contrast.

    Mode ``"local"`` then applies local contrast normalisation (a Gaussian ``window``, as in
    :func:`striate.nn.functional.local_contrast_norm`) and standardises each image again: flat
    regions go to zero and edges carry the energy, so the filters learn edges and strokes rather
    than the blobs and points that explain large uniform areas cheaply."""
    x = _standardize(np.asarray(pixels, dtype=np.float64) / state["scale"], state["min_std"])
    if state["mode"] == "local":
        from ..nn.functional import local_contrast_norm
        from ..tensor import Tensor

        x = _standardize(local_contrast_norm(Tensor(x), state["window"]).numpy(),
                         state["min_std"])
    return x


def _standardize(x: np.ndarray, min_std: float) -> np.ndarray:
    axes = tuple(range(1, x.ndim))
    x = x - x.mean(axis=axes, keepdims=True)
    return x / np.maximum(x.std(axis=axes, keepdims=True), min_std)


def load_images(dataset: str, split: str, limit: int | None, data_dir: str | None = None
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``limit`` images (N, C, H, W, 0..255) and labels of a split, as the trainer
    reads the dataset; and the dataset's name as the checkpoint records it."""
    from ..data import Subset
    from ..train.config import TrainConfig
    from ..train.datasets import open_split, settled

    config = settled(TrainConfig(dataset=dataset, data_dir=data_dir))
    data = open_split(config, split)
    if limit is not None:
        data = Subset(data, np.arange(min(limit, len(data))))
    if len(data) == 0:
        raise UserError(f"{dataset}: the {split} split holds no images")
    images, labels = data.batch(np.arange(len(data)))
    return np.asarray(images), np.asarray(labels), config.dataset


def _positive(name: str, value: int | float) -> None:
    if not value > 0 or not math.isfinite(value):
        raise UserError(f"--{name} must be a positive number, got {value}")


def _parse_maps(text: str, layers: int) -> list[int]:
    try:
        maps = [int(m) for m in text.split(",")]
    except ValueError:
        raise UserError(f"--maps must be comma-separated integers, got {text!r}") from None
    if len(maps) != layers or min(maps) < 1:
        raise UserError(f"--maps must give {layers} positive number(s), one per layer, got "
                        f"{text!r}")
    return maps


# --- train ----------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    from ..deconvnet import DeconvLayer, DeconvNet
    from ..deconvnet.checkpoint import FILE_NAME, save_deconvnet

    for name in ("layers", "kernel_size", "epochs", "limit", "batch_size", "lam", "p", "pool"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.p > 1:
        raise UserError(f"--p must be in (0, 1], got {args.p}")
    maps = _parse_maps(args.maps, args.layers)
    out = Path(args.out or f"runs/deconvnet-{Path(args.dataset).name}")
    if (out / FILE_NAME).exists() and not args.overwrite:
        raise UserError(f"{out} holds a deconvnet already; pass --overwrite to start over or "
                        "--out to choose another folder")
    pixels, _, dataset = load_images(args.dataset, "train", args.limit, args.data_dir)
    norm = normalization(args.normalize)
    images = normalize(pixels, norm)
    channels = [images.shape[1], *maps[:-1]]
    try:
        layers = [DeconvLayer(in_channels=c, num_maps=m, kernel_size=args.kernel_size,
                              lam=args.lam, p=args.p, seed=args.seed + i,
                              connectivity="full" if i == 0 else args.connectivity)
                  for i, (c, m) in enumerate(zip(channels, maps, strict=True))]
        net = DeconvNet(layers, pool=args.pool)
    except ValueError as e:
        raise UserError(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    meta = {"image_shape": list(images.shape[1:]), "dataset": dataset,
            "normalization": norm, "costs": [[] for _ in layers],
            "epochs_done": [0 for _ in layers],
            "train": {"epochs": args.epochs, "batch_size": args.batch_size, "limit": args.limit,
                      "seed": args.seed, "data_dir": args.data_dir}}
    print(f"{len(images)} images of {dataset} {images.shape[1:]}, layers {maps}, "
          f"kernel {args.kernel_size}, λ {args.lam}, p {args.p} -> {out}")
    inputs, rng = images, np.random.default_rng(args.seed)
    for index, layer in enumerate(layers):
        for epoch in range(args.epochs):
            # fit draws the same batches each call; a fresh order per epoch varies them
            cost = layer.fit(inputs[rng.permutation(len(inputs))], epochs=1,
                             batch_size=args.batch_size, progress=not args.no_progress)
            meta["costs"][index] += [float(c) for c in cost]
            meta["epochs_done"][index] += 1
            save_deconvnet(out / FILE_NAME, net, meta)
            _write_costs(out / "cost.csv", meta["costs"], meta["epochs_done"])
            print(f"layer {index + 1} epoch {epoch + 1}: cost per image {cost[-1]:.6g}")
        if index + 1 < len(layers):
            inputs = _next_inputs(net, layer, inputs, args.batch_size, not args.no_progress)
    if not args.no_plots:
        from ..deconvnet.show import write_pictures

        write_pictures(net, images, meta["costs"], out)
    print(f"wrote {out / FILE_NAME}, {out / 'cost.csv'}"
          + ("" if args.no_plots else " and the PNGs"))
    return 0


def pooled(net: Any, z: np.ndarray) -> np.ndarray:
    """Maps z of one layer as the next layer takes them: max-pooled by magnitude."""
    from ..deconvnet.net import max_pool_abs

    return z if net.pool == 1 else max_pool_abs(z, net.pool)[0]


def _next_inputs(net: Any, layer: Any, inputs: np.ndarray, batch_size: int,
                 progress: bool) -> np.ndarray:
    """The pooled maps of every input, inferred ``batch_size`` at a time."""
    from ..train.trainer import _progress

    starts = range(0, len(inputs), batch_size)
    out = []
    with _progress(len(starts), "maps", progress) as bar:
        for start in starts:
            out.append(pooled(net, layer.infer(inputs[start:start + batch_size])))
            bar.update(1)
    return np.concatenate(out)


def _write_costs(path: Path, costs: list[list[float]], epochs: list[int]) -> None:
    """``layer,epoch,iteration,cost``: each layer's costs split evenly over its epochs."""
    with atomic_write(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["layer", "epoch", "iteration", "cost"])
        for layer, (cost, done) in enumerate(zip(costs, epochs, strict=True)):
            per_epoch = max(1, len(cost) // max(done, 1))
            for i, value in enumerate(cost):
                writer.writerow([layer + 1, min(i // per_epoch, done - 1) + 1, i + 1,
                                 f"{value:.9g}"])


# --- infer and show -------------------------------------------------------------------------------


def read_images(arguments: list[str], meta: dict[str, Any]) -> tuple[list[Path], np.ndarray]:
    """Image files (folders expanded), as ``predict`` reads them, at the checkpoint's shape,
    normalised as in training."""
    from .predict import image_paths, load_image

    channels, size, _ = meta["image_shape"]
    paths = image_paths(arguments)
    pixels = np.stack([load_image(p, channels, size) for p in paths])
    return paths, normalize(pixels, meta["normalization"])


def layer_figures(net: Any, images: np.ndarray
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], list[np.ndarray]]:
    """Per layer, per image (cost of the layer on its own input, relative error of the image
    rebuilt in pixels from that layer's maps, share of non-zero map elements); and the maps.
    The maps are the shrinkage's output, so their zeros are exact."""
    from ..deconvnet.show import reconstructions

    maps = net.infer(images)
    rebuilt = reconstructions(net, images, maps)
    rows = []
    for index, (z, y_hat) in enumerate(zip(maps, rebuilt, strict=True)):
        y = images if index == 0 else pooled(net, maps[index - 1])
        layer = net.layers[index]
        cost = np.array([layer.cost(y[n:n + 1], z[n:n + 1]) for n in range(len(images))])
        axes = tuple(range(1, images.ndim))
        error = (np.sqrt(((y_hat - images) ** 2).sum(axis=axes))
                 / np.maximum(np.sqrt((images ** 2).sum(axis=axes)), 1e-12))
        rows.append((cost, error, (z != 0).mean(axis=axes)))
    return rows, maps


def run_infer(args: argparse.Namespace) -> int:
    from ..deconvnet.checkpoint import load_deconvnet

    if args.out is not None and Path(args.out).suffix not in (".npy", ".npz"):
        raise UserError(f"--out must end in .npy or .npz, got {args.out}")
    checkpoint = load_deconvnet(args.run_dir)
    paths, images = read_images(args.images, checkpoint.meta)
    rows, maps = layer_figures(checkpoint.net, images)
    for n, path in enumerate(paths):
        print(f"{path}: " + "; ".join(
            f"layer {i + 1} cost {cost[n]:.4g}, error {error[n]:.3f}, non-zero {share[n]:.1%}"
            for i, (cost, error, share) in enumerate(rows)))
    if args.out is not None:
        out = Path(args.out)
        with atomic_write(out) as f:
            if out.suffix == ".npz":
                np.savez(f, **{f"layer{i + 1}": np.asarray(z) for i, z in enumerate(maps)})
            else:
                np.save(f, np.asarray(maps[-1]))
        print(f"wrote {out}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ..deconvnet.checkpoint import load_deconvnet
    from ..deconvnet.show import MAX_IMAGES, write_pictures

    checkpoint = load_deconvnet(args.run_dir)
    meta = checkpoint.meta
    if args.images:
        images = read_images(args.images, meta)[1]
    else:
        data_dir = args.data_dir or meta["train"].get("data_dir")
        pixels = load_images(meta["dataset"], "test", MAX_IMAGES, data_dir)[0]
        if list(pixels.shape[1:]) != meta["image_shape"]:
            raise UserError(f"{meta['dataset']}: test images of shape {pixels.shape[1:]}, the "
                            f"deconvnet learned on {tuple(meta['image_shape'])}")
        images = normalize(pixels, meta["normalization"])
    out = Path(args.out) if args.out else checkpoint.path.parent
    out.mkdir(parents=True, exist_ok=True)
    for path in write_pictures(checkpoint.net, images, meta["costs"], out):
        print(f"wrote {path}")
    return 0
