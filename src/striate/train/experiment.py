"""One training run from a configuration: data, model, optimiser, schedule, trainer, and the
results people look at afterwards (test accuracy, confusion matrix, plots, report)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..errors import UserError
from .checkpoint import load_checkpoint
from .metrics import confusion_matrix
from .trainer import NonFiniteLossError, Trainer

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "step", "multistep", "constant")
AUGMENTATIONS = ("none", "flip", "crop", "translate", "flip+crop")


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

    def run_dir(self) -> Path:
        return Path(self.out or f"runs/{self.model}-{self.dataset}")


# --- building blocks ---------------------------------------------------------------------------


def build_model(name: str, num_classes: int, image_shape: tuple[int, int, int],
                model_args: dict[str, Any]):
    from .. import models

    _check_model_name(name)
    channels, height, _ = image_shape
    return models.get_model(name, num_classes=num_classes, in_channels=channels,
                            input_size=height, **model_args)


def build_optimizer(config: TrainConfig, params):
    from .. import optim

    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr, momentum=config.momentum,
                         weight_decay=config.weight_decay, nesterov=config.momentum > 0)
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    raise UserError(f"unknown optimizer {config.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")


def build_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """Schedules step once per batch, so epoch-based ones are scaled by ``steps_per_epoch``."""
    from ..optim import lr_scheduler as S

    total = config.epochs * steps_per_epoch
    if config.schedule == "constant":
        return None
    if config.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    if config.schedule == "step":
        return S.StepLR(optimizer, step_size=max(1, total // 3), gamma=0.1)
    if config.schedule == "multistep":
        return S.MultiStepLR(optimizer, milestones=[total // 2, total * 3 // 4], gamma=0.1)
    raise UserError(f"unknown schedule {config.schedule!r}; choose from {', '.join(SCHEDULES)}")


def build_augmentation(name: str, image_shape: tuple[int, int, int]) -> list:
    from ..data import transforms as T

    size = image_shape[1:]
    parts = {"none": [], "flip": [T.RandomHorizontalFlip()],
             "crop": [T.RandomCrop(size, padding=2 if size[0] <= 28 else 4)],
             "translate": [T.RandomTranslate(2)]}
    parts["flip+crop"] = parts["flip"] + parts["crop"]
    if name not in parts:
        raise UserError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
    return parts[name]


def model_from_checkpoint(checkpoint) -> Any:
    """Rebuild the model a checkpoint describes and load its weights (eval mode)."""
    info = checkpoint.meta["model"]
    model = build_model(info["name"], info["num_classes"],
                        (info["in_channels"], info["input_size"], info["input_size"]),
                        info.get("args", {}))
    model.load_state_dict(checkpoint.model_state)
    return model.eval()


def load_data(config: TrainConfig):
    """(train, validation or None, test) datasets, cut to ``limit`` examples when asked."""
    from ..data import ArrayDataset, get_dataset, train_val_split

    try:
        train = get_dataset(config.dataset, "train", data_dir=config.data_dir)
        test = get_dataset(config.dataset, "test", data_dir=config.data_dir)
    except ValueError as e:  # DatasetError included: missing, corrupt or unknown data
        raise UserError(str(e)) from None
    if config.limit:
        n, m = min(config.limit, len(train)), min(max(config.limit // 5, 1), len(test))
        train = ArrayDataset(train.images[:n], train.labels[:n], train.classes)
        test = ArrayDataset(test.images[:m], test.labels[:m], test.classes)
    val = None
    if config.val_fraction > 0:
        train, val = train_val_split(train, config.val_fraction, seed=config.seed)
    return train, val, test


def make_loaders(config: TrainConfig, train, val, test, normalizer):
    from ..data import Compose, DataLoader

    augment = build_augmentation(config.augment, test.image_shape)
    generator = np.random.default_rng(config.seed)
    train_loader = DataLoader(train, batch_size=config.batch_size, shuffle=True,
                              transform=Compose([*augment, normalizer]), generator=generator)

    def plain(ds):
        return None if ds is None else DataLoader(ds, batch_size=512, transform=normalizer)

    return train_loader, plain(val), plain(test)


# --- the run -------------------------------------------------------------------------------------


def train(config: TrainConfig, resume: str | None = None) -> dict[str, Any]:
    """Train (or resume) a run; return its summary.  Writes everything under the run folder."""
    from ..data import Normalizer

    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        saved = TrainConfig(**checkpoint.meta["config"])
        if config.epochs and config.epochs != saved.epochs:
            raise UserError(
                f"{resume} was planned for {saved.epochs} epochs and its learning-rate schedule "
                f"depends on that; --resume continues that plan (omit --epochs), or start a "
                f"new run with --epochs {config.epochs}")
        config = dataclasses.replace(saved,
                                     out=str(Path(resume) if Path(resume).is_dir()
                                             else Path(resume).parent),
                                     progress=config.progress, plots=config.plots)
    _check(config)
    backend.manual_seed(config.seed)
    train_set, val_set, test_set = load_data(config)
    if checkpoint is not None:
        normalizer = Normalizer.from_state_dict(checkpoint.meta["normalizer"])
    else:
        normalizer = Normalizer(mode=config.normalize,
                                standardize=config.standardize).fit(train_set)
    train_loader, val_loader, test_loader = make_loaders(config, train_set, val_set, test_set,
                                                         normalizer)
    model = build_model(config.model, test_set.num_classes, test_set.image_shape,
                        config.model_args)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer, len(train_loader))
    channels, size, _ = test_set.image_shape
    meta = {"model": {"name": config.model, "num_classes": test_set.num_classes,
                      "in_channels": channels, "input_size": size, "args": config.model_args},
            "dataset": config.dataset, "classes": list(test_set.classes),
            "image_shape": list(test_set.image_shape),
            "normalizer": normalizer.state_dict(), "config": dataclasses.asdict(config)}
    run_dir = config.run_dir()
    trainer = Trainer(model, optimizer, train_loader, run_dir, meta, scheduler=scheduler,
                      val_loader=val_loader, patience=config.patience, progress=config.progress)
    if checkpoint is not None:
        trainer.resume(checkpoint)
        print(f"resuming {run_dir} at epoch {trainer.epoch} of {config.epochs}")
    _describe(config, model, train_set, val_set, test_set)
    started = time.perf_counter()
    try:
        trainer.fit(config.epochs)
    except NonFiniteLossError as e:
        raise UserError(str(e)) from None
    seconds = time.perf_counter() - started
    return finish(trainer, test_loader, test_set, config, seconds)


def finish(trainer: Trainer, test_loader, test_set, config: TrainConfig,
           seconds: float) -> dict[str, Any]:
    """Evaluate the final model on the test set; print and save results, plots and report."""
    metrics, labels, preds = trainer.evaluate(test_loader)
    classes = list(test_set.classes)
    matrix = confusion_matrix(labels, preds, len(classes))
    summary = {"model": config.model, "dataset": config.dataset, "epochs": trainer.epoch,
               "test_accuracy": round(metrics.accuracy, 4), "test_top5": round(metrics.top5, 4),
               "test_loss": round(metrics.loss, 4),
               "best_val_accuracy": round(trainer.best_accuracy, 4),
               "train_seconds": round(seconds, 1), "command": " ".join(sys.argv)}
    run_dir = config.run_dir()
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test accuracy {metrics.accuracy:.4f} (top-5 {metrics.top5:.4f}, loss "
          f"{metrics.loss:.4f}) after {trainer.epoch} epochs, {seconds:.0f} s of training")
    if config.plots:
        from .report import write_run_report

        report = write_run_report(trainer, test_set, test_loader, labels, preds, matrix,
                                  classes, summary)
        print(f"report: {report}")
    return summary


def _check_model_name(name: str) -> None:
    from .. import models

    if name not in models.list_models():
        raise UserError(f"unknown model {name!r}; choose from {', '.join(models.list_models())}")


def _check(config: TrainConfig) -> None:
    """The options that need no data, checked before any is looked for (an unknown model is
    reported as such on a machine without the dataset too)."""
    _check_model_name(config.model)
    if config.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {config.epochs}")
    if config.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not config.lr > 0:
        raise UserError(f"--lr must be positive, got {config.lr}")
    if not 0 <= config.val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {config.val_fraction}")
    if config.normalize not in ("channel", "pixel"):
        raise UserError(f"--normalize must be channel or pixel, got {config.normalize!r}")


def _describe(config: TrainConfig, model, train_set, val_set, test_set) -> None:
    n_params = sum(p.numel() for p in model.parameters())
    sizes = f"{len(train_set)} train, {len(val_set) if val_set else 0} val, {len(test_set)} test"
    print(f"{config.model} ({n_params:,} parameters) on {config.dataset} ({sizes}); "
          f"{config.optimizer} lr {config.lr}, {config.schedule} schedule, batch "
          f"{config.batch_size}, {config.epochs} epochs -> {config.run_dir()}", flush=True)
