"""A run's configuration and the checks that refuse a bad one before any data is read."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .json_bounds import FLOAT_BOUNDS

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "step", "multistep", "constant", "plateau")
#: what ``--augment`` combines with "+" (or "none"), applied in the order given; the image ones
#: before the normaliser, mixup and cutmix (one of the two per batch when both) after it
AUGMENTATIONS = ("flip", "crop", "translate", "random-resized-crop", "rotate", "color-jitter",
                 "erase", "mixup", "cutmix")
MAX_SEED = 2**63 - 1
MAX_IMAGE_SIZE = 4096


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in checkpoints so ``--resume`` needs nothing else."""

    model: str = "lenet5"
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    val_fraction: float = 0.1
    normalize: str = "channel"
    standardize: bool = True
    augment: str = "none"
    seed: int = 0
    out: str | None = None
    patience: int | None = None
    limit: int | None = None
    plots: bool = True
    progress: bool = True
    model_args: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None       # image folders: resize every image to this square size
    channels: int | None = None         # image folders: 1 (grey) or 3 (RGB); None: as the images
    skip_bad_images: bool = False       # image folders: leave unreadable files out, counted
    test_fraction: float = 0.2          # image folders without test/: the held-out share
    schedule_start: int = 0             # the epoch the learning-rate schedule began at
    accumulate: int = 1                 # batches whose gradients make one optimiser step
    clip_grad_norm: float | None = None  # the largest total gradient norm of a step
    label_smoothing: float = 0.0        # of the training loss's targets
    mixup_alpha: float = 0.2            # --augment mixup: λ ~ Beta(α, α)
    cutmix_alpha: float = 1.0           # --augment cutmix: λ ~ Beta(α, α)
    tensorboard: bool = False           # also write TensorBoard event files (RUN/tensorboard/)
    sync_bn: bool = False               # distributed: batch-norm statistics over every rank

    @classmethod
    def from_meta(cls, meta: dict[str, Any], source: str | Path) -> TrainConfig:
        """The configuration a checkpoint's metadata saved (fields added since default)."""
        saved = meta.get("config")
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(saved, dict) or not set(saved) <= known:
            raise UserError(f"{source}: the checkpoint holds no usable run configuration")
        try:
            return cls(**saved)
        except TypeError as e:
            raise UserError(f"{source}: bad run configuration in the checkpoint ({e})") from None

    def run_dir(self) -> Path:
        """``--out``, else ``runs/MODEL-DATASET`` (an image folder's own name as DATASET)."""
        return Path(self.out or f"runs/{self.model}-{Path(self.dataset).name}")


def check_config(config: TrainConfig) -> None:
    """The options that need no data, checked before any is looked for (an unknown model is
    reported as such on a machine without the dataset too)."""
    from .model_args import check_model_args

    check_model_args(config.model, config.model_args, where="--model-args")
    fixed = sorted(set(config.model_args) & {"num_classes", "in_channels", "input_size"})
    if fixed:
        raise UserError(f"--model-args cannot set {', '.join(fixed)}: the dataset sets them "
                        "(use --image-size and --channels for an image folder)")
    _at_least(1, epochs=config.epochs, batch_size=config.batch_size,
              accumulate=config.accumulate)
    _at_least(1, patience=config.patience, limit=config.limit, image_size=config.image_size)
    _at_most(MAX_IMAGE_SIZE, image_size=config.image_size)
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise UserError(f"--lr must be a positive finite number, got {config.lr}")
    for name in ("momentum", "weight_decay"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"--{_flag(name)} must be a finite number >= 0, got {value}")
    if config.clip_grad_norm is not None and not (math.isfinite(config.clip_grad_norm)
                                                   and config.clip_grad_norm > 0):
        raise UserError(f"--clip-grad-norm must be a positive finite number, got "
                        f"{config.clip_grad_norm}")
    for name in ("val_fraction", "test_fraction", "label_smoothing"):
        value = getattr(config, name)
        if not 0 <= value < 1:
            raise UserError(f"--{_flag(name)} must be in [0, 1), got {value}")
    if config.limit is not None:  # the dataset may hold fewer; load_data checks again
        validation_size(config.limit, config.val_fraction)
    for name in ("mixup_alpha", "cutmix_alpha"):
        low, high = FLOAT_BOUNDS[name]
        if not low <= getattr(config, name) <= high:
            raise UserError(f"--{_flag(name)} must be in [{low:g}, {high:g}], got "
                            f"{getattr(config, name)}")
    if not 0 <= config.seed <= MAX_SEED:
        raise UserError(f"--seed must be an integer in [0, 2**63), got {config.seed}")
    if config.channels not in (None, 1, 3):
        raise UserError(f"--channels must be 1 (grey) or 3 (RGB), got {config.channels}")
    _choice("optimizer", config.optimizer, OPTIMIZERS)
    _choice("schedule", config.schedule, SCHEDULES)
    augment_names(config.augment)
    _choice("normalize", config.normalize, ("channel", "pixel"))
    if config.tensorboard:  # say so before any data is read
        from .tensorboard import tensorboardx

        tensorboardx()
    if config.data_dir is not None and not Path(config.data_dir).expanduser().is_dir():
        raise UserError(f"--data-dir {config.data_dir}: no such folder")


def validation_size(n_train: int, val_fraction: float) -> int:
    """How many of ``n_train`` examples to hold out for validation: ``round(val_fraction * n)``,
    at least one when ``val_fraction > 0``, and never all of them."""
    if val_fraction == 0:
        return 0
    n_val = max(1, round(val_fraction * n_train))
    if n_train - n_val < 1:
        raise UserError(f"{n_train} training example(s) leave none to train on after "
                        f"holding out {n_val} for validation; use more (--limit) or "
                        "--val-fraction 0")
    return n_val


def augment_names(spec: str, where: str = "--augment") -> list[str]:
    """The augmentations of ``spec``: "none", or names of :data:`AUGMENTATIONS` joined by "+",
    each at most once."""
    names = [] if spec == "none" else spec.split("+")
    for i, name in enumerate(names):
        if name not in AUGMENTATIONS or name in names[:i]:
            problem = "repeats" if name in AUGMENTATIONS else "has an unknown augmentation"
            raise UserError(f"{where} {spec!r} {problem} {name!r}; combine with + from: "
                            f"{', '.join(AUGMENTATIONS)} (or none)")
    return names


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _at_least(low: int, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < low:
            raise UserError(f"--{_flag(name)} must be at least {low}, got {value}")


def _at_most(high: int, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value > high:
            raise UserError(f"--{_flag(name)} must be at most {high}, got {value}")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
