"""``striate train``: train a model on a dataset, with progress, checkpoints, plots and a report."""

from __future__ import annotations

import argparse
import contextlib
import functools
from pathlib import Path

from ..errors import UserError
from . import DATA_DIR_HELP, add_conv_plan_option
from .model_args import parse_model_args


def add_parser(subparsers) -> None:
    from ..train.config import AUGMENTATIONS, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train a model (default: LeNet-5 on Fashion-MNIST)",
        description="Train a CNN on a real dataset. Every option has a default: plain "
                    "'striate train' trains LeNet-5 on Fashion-MNIST. The run folder gets "
                    "last/best checkpoints (safetensors), metrics.csv/.jsonl, plots and "
                    "index.html.")
    p.add_argument("--config", default=None, metavar="TOML",
                   help="read options from a TOML file (keys: the option names, e.g. "
                        "batch-size = 64); options on the command line override it. Every new "
                        "run writes its options to RUN/config.toml, which repeats it (default: "
                        "the command line only)")
    p.defaults_from = config_defaults
    p.add_argument("--model", default=d.model, help="model name (see 'striate summary --list')")
    p.add_argument("--model-args", default="{}", metavar="JSON",
                   help='extra model arguments as JSON, e.g. \'{"depth": 40}\'')
    p.add_argument("--dataset", default=d.dataset,
                   help="fashion-mnist, mnist, kmnist, emnist, cifar10, cifar100, or an image "
                        "folder path")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--epochs", type=int, default=None,
                   help=f"total epochs (default: {d.epochs}; --resume keeps the saved run's)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per batch")
    p.add_argument("--lr", type=float, default=d.lr, help="(peak) learning rate")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                   help="sgd (with Nesterov momentum), adam, or adamw (decoupled weight decay)")
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum (Nesterov)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="L2 penalty on the weights (decoupled for adamw)")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule,
                   help="learning-rate schedule, stepped every optimiser step; plateau: ×0.1 "
                        "after 3 epochs in a row without a lower validation loss (the training "
                        "loss with --val-fraction 0)")
    p.add_argument("--accumulate", type=int, default=d.accumulate, metavar="N",
                   help="sum the gradients of N batches (each loss scaled by 1/N) per "
                        "optimiser step: the step of one batch of N x --batch-size images, "
                        "batch norm aside")
    p.add_argument("--clip-grad-norm", type=float, default=None, metavar="MAX",
                   help="rescale the gradients before each step so that their total L2 norm "
                        "is at most MAX (default: no clipping)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, metavar="EPS",
                   help="train on targets (1 - EPS) one-hot + EPS/classes (the reported "
                        "validation and test losses stay plain cross-entropy)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="fraction of the training set held out for validation")
    p.add_argument("--normalize", choices=("channel", "pixel"), default=d.normalize,
                   help="subtract the training set's mean per channel or per pixel")
    p.add_argument("--no-standardize", action="store_true",
                   help="only mean-centre; do not also divide by the standard deviation")
    p.add_argument("--augment", default=d.augment, metavar="A+B+...",
                   help="random changes to each training batch, combined with + and applied in "
                        f"that order, from: {', '.join(AUGMENTATIONS)} (docs/augmentation.md; "
                        "e.g. flip+random-resized-crop+color-jitter+mixup)")
    p.add_argument("--mixup-alpha", type=float, default=d.mixup_alpha, metavar="ALPHA",
                   help="--augment mixup: the mixing weight λ ~ Beta(ALPHA, ALPHA) of a batch")
    p.add_argument("--cutmix-alpha", type=float, default=d.cutmix_alpha, metavar="ALPHA",
                   help="--augment cutmix: the kept share λ ~ Beta(ALPHA, ALPHA) of a batch")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the initial weights, the shuffling, augmentation and dropout")
    p.add_argument("--out", default=None, help="run folder (default: runs/MODEL-DATASET)")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a run folder that holds an earlier run (deletes its "
                        "checkpoints, metrics and plots)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a better validation accuracy "
                        "(default: never stop early)")
    folder = p.add_argument_group("image folders (--dataset DIR, one sub-folder per class)")
    folder.add_argument("--image-size", type=int, default=None, metavar="N",
                        help="resize every image to N x N (needed when sizes differ; default: "
                             "keep their size)")
    folder.add_argument("--channels", type=int, choices=(1, 3), default=None,
                        help="1: grey, 3: RGB (default: grey only if every image is grey)")
    folder.add_argument("--skip-bad-images", action="store_true",
                        help="leave unreadable image files out (counted) instead of stopping")
    folder.add_argument("--test-fraction", type=float, default=d.test_fraction,
                        help="share of the images held out as the test set when the folder "
                             "has no test/ sub-folder")
    p.add_argument("--limit", type=int, default=None,
                   help="train on only the first N training examples, for quick tries "
                        "(default: all)")
    p.add_argument("--resume", default=None, metavar="RUN_OR_CHECKPOINT",
                   help="continue a run exactly where it stopped, with its saved options "
                        "(default: start a new run)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads inside each matrix product (default: 1; striate splits the "
                        "convolutions and large products over its own worker threads, "
                        "and idle BLAS threads spin, slowing those workers)")
    add_distributed_options(p)
    add_conv_plan_option(p)
    p.add_argument("--no-plots", action="store_true", help="skip plots and the HTML report")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write the losses, accuracies and learning rate as TensorBoard "
                        "event files in RUN/tensorboard/ (needs the tensorboardX package)")
    p.set_defaults(run=run, parser=p)


#: options that are not a run's settings, not read from or written to a config file: what acts
#: on the run folder once (``--config`` itself, ``--resume``, ``--overwrite``) and how the
#: processes are started (``--workers``, ``--distributed``)
ONCE = ("config", "resume", "overwrite", "workers", "distributed")


def config_defaults(parser: argparse.ArgumentParser, first: argparse.Namespace) -> dict:
    """The defaults that ``--config FILE`` sets (none without it)."""
    from .config_file import read_defaults

    return read_defaults(parser, first.config, skip=ONCE) if first.config else {}


def write_config(args: argparse.Namespace, config) -> None:
    """Write the run's options, as resolved (its folder, epochs, dataset path and channels from
    the settled ``config``, ``--data-dir`` made absolute), to ``config.toml`` in its folder,
    atomically: ``--config`` repeats the run."""
    from ..fileio import atomic_write
    from . import version
    from .config_file import toml_text

    data_dir = config.data_dir and str(Path(config.data_dir).expanduser().resolve())
    resolved = argparse.Namespace(**{**vars(args), "out": str(config.run_dir()),
                                     "epochs": config.epochs, "dataset": config.dataset,
                                     "channels": config.channels, "data_dir": data_dir})
    text = toml_text(args.parser, resolved, skip=ONCE, header=(
        f"striate {version()}: the options of this run. Repeat it with\n"
        f"  striate train --config {config.run_dir() / 'config.toml'} --out OTHER_FOLDER"))
    with atomic_write(config.run_dir() / "config.toml", "w") as f:
        f.write(text)


def run(args: argparse.Namespace) -> int:
    from ..train.experiment import TrainConfig, train

    model_args = parse_model_args(args.model_args, args.model)
    config = TrainConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir,
        epochs=args.epochs if args.epochs is not None else (0 if args.resume else 10),
        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
        val_fraction=args.val_fraction, normalize=args.normalize,
        standardize=not args.no_standardize, augment=args.augment,
        seed=args.seed, out=args.out, patience=args.patience, limit=args.limit,
        plots=not args.no_plots, progress=not args.no_progress, model_args=model_args,
        image_size=args.image_size, channels=args.channels,
        skip_bad_images=args.skip_bad_images, test_fraction=args.test_fraction,
        accumulate=args.accumulate, clip_grad_norm=args.clip_grad_norm,
        label_smoothing=args.label_smoothing, mixup_alpha=args.mixup_alpha,
        cutmix_alpha=args.cutmix_alpha, tensorboard=args.tensorboard, sync_bn=args.sync_bn)
    if args.threads is not None:
        from ..kernels.parallel import set_num_threads

        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        set_num_threads(args.threads)
    if args.resume and args.overwrite:
        raise UserError("--resume continues a run and --overwrite deletes it: choose one")
    if args.workers is not None:
        return launch_workers(args)
    with join_job(args.distributed, "striate train"):
        train(config, resume=args.resume, overwrite=args.overwrite,
              on_prepared=functools.partial(write_config, args))
    return 0


def add_distributed_options(p: argparse.ArgumentParser) -> None:
    """--workers, --distributed and --sync-bn (docs/distributed.md)."""
    group = p.add_argument_group("data-parallel training over MPI (docs/distributed.md)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="train as N ranks on this machine, started with the mpiexec of "
                            "the mpich package, each with cores/N threads; --batch-size is "
                            "then shared out over them (default: one process)")
    group.add_argument("--distributed", action="store_true",
                       help="run as one rank of a job started by mpiexec (mpiexec -n 4 "
                            "striate train ... --distributed): each rank takes its share of "
                            "every batch of --batch-size images, rank 0 alone writes the run "
                            "folder, and a rank that fails stops them all")
    group.add_argument("--sync-bn", action="store_true",
                       help="with several ranks, batch norm's statistics over the whole "
                            "batch of all ranks rather than each rank's share")


def launch_workers(args: argparse.Namespace) -> int:
    """Start ``--workers`` ranks running this command line with ``--distributed``."""
    import sys

    from ..distributed.launch import launch_workers as launch
    from ..distributed.launch import strip_workers

    if args.distributed:
        raise UserError("--workers starts the ranks itself; --distributed is for ranks that "
                        "mpiexec started: choose one")
    argv = sys.argv[1:]
    if not any(a == "--workers" or a.startswith("--workers=") for a in argv):
        raise UserError("--workers needs the striate command line (call mpiexec with "
                        "--distributed from a program)")
    return launch(args.workers, strip_workers(argv))


def join_job(distributed: bool, command: str):
    """With ``--distributed``, join the MPI job and make a failure in this rank end them all;
    else nothing."""
    if not distributed:
        return contextlib.nullcontext()
    from ..distributed.launch import abort_on_error, setup_rank

    setup_rank()
    return abort_on_error(command)
