"""``striate train``: train a model on a dataset, with progress, checkpoints, plots and a report."""

from __future__ import annotations

import argparse

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
    p.add_argument("--augment", choices=AUGMENTATIONS, default=d.augment,
                   help="random changes to each training batch: horizontal flips, crops of "
                        "the padded image, translations")
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
    add_conv_plan_option(p)
    p.add_argument("--no-plots", action="store_true", help="skip plots and the HTML report")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


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
        label_smoothing=args.label_smoothing)
    if args.threads is not None:
        from ..kernels.parallel import set_num_threads

        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        set_num_threads(args.threads)
    if args.resume and args.overwrite:
        raise UserError("--resume continues a run and --overwrite deletes it: choose one")
    train(config, resume=args.resume, overwrite=args.overwrite)
    return 0
