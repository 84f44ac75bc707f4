"""One training run from a configuration: data, model, optimiser, schedule, trainer, and the
results people look at afterwards (test accuracy, confusion matrix, plots, report)."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..random import manual_seed
from .checkpoint import Checkpoint, load_checkpoint
from .config import OPTIMIZERS, SCHEDULES, TrainConfig, augment_names, check_config
from .datasets import describe_test_set, load_data, settled
from .metrics import confusion_matrix, json_safe
from .run_folder import check_writable, prepare, resume_source
from .trainer import NonFiniteLossError, Trainer

# --- building blocks ---------------------------------------------------------------------------


def build_model(name: str, num_classes: int, image_shape: tuple[int, int, int],
                model_args: dict[str, Any]):
    from .. import models
    from ..nn.utils import fuse

    channels, height, _ = image_shape
    return fuse(models.get_model(name, num_classes=num_classes, in_channels=channels,
                                 input_size=height, **model_args))


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
    """Schedules step once per optimiser step, so epoch-based ones are scaled by
    ``steps_per_epoch`` (batches / ``accumulate``, rounded up); ``plateau`` steps once per epoch
    on the validation loss, dividing the rate by 10 after 3 epochs in a row without a better one
    (PyTorch's defaults but a patience of 2 instead of 10, which short runs would never reach).

    A schedule spans the epochs from ``schedule_start`` (0, or where a finished run was extended
    with more epochs) to ``epochs``."""
    from ..optim import lr_scheduler as S

    total = (config.epochs - config.schedule_start) * steps_per_epoch
    if config.schedule == "constant":
        return None
    if config.schedule == "plateau":
        return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=2)
    if config.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    if config.schedule == "step":
        return S.StepLR(optimizer, step_size=max(1, total // 3), gamma=0.1)
    if config.schedule == "multistep":
        return S.MultiStepLR(optimizer, milestones=[total // 2, total * 3 // 4], gamma=0.1)
    raise UserError(f"unknown schedule {config.schedule!r}; choose from {', '.join(SCHEDULES)}")


def cross_entropy_loss(label_smoothing: float):
    """Cross-entropy, against targets smoothed by ``label_smoothing`` when it is above 0."""
    from ..nn import functional as F

    if not label_smoothing:
        return F.cross_entropy
    return functools.partial(F.cross_entropy, label_smoothing=label_smoothing)


def build_augmentation(config: TrainConfig, image_shape: tuple[int, int, int]
                       ) -> tuple[list, Callable | None]:
    """The image transforms ``config.augment`` names, in its order, and the batch mixer
    (mixup, cutmix, or one of the two per batch when both are named), or None."""
    from ..data import (
        ColorJitter,
        RandomCrop,
        RandomErasing,
        RandomHorizontalFlip,
        RandomResizedCrop,
        RandomRotation,
        RandomTranslate,
        mixing,
    )

    size = image_shape[1:]
    images = {"flip": RandomHorizontalFlip,
              "crop": lambda: RandomCrop(size, padding=2 if size[0] <= 28 else 4),
              "translate": lambda: RandomTranslate(2),
              "random-resized-crop": lambda: RandomResizedCrop(size),
              "rotate": lambda: RandomRotation(15.0),
              "color-jitter": lambda: ColorJitter(0.4, 0.4, 0.4),
              "erase": lambda: RandomErasing(value="random")}
    mixers = {"mixup": lambda: mixing.Mixup(config.mixup_alpha),
              "cutmix": lambda: mixing.CutMix(config.cutmix_alpha)}
    names = augment_names(config.augment)
    mix = [mixers[name]() for name in names if name in mixers]
    return ([images[name]() for name in names if name in images],
            mixing.RandomMix(mix) if len(mix) > 1 else mix[0] if mix else None)


def make_loaders(config: TrainConfig, train, val, test, normalizer):
    """The training, validation and test loaders; in a distributed job the training and
    validation batches are shared out over the ranks (the test set is rank 0's alone)."""
    from ..data import Compose, DataLoader
    from ..distributed import DistributedSampler, is_initialized

    augment, mix = build_augmentation(config, test.image_shape)
    generator = np.random.default_rng(config.seed)
    sampler = DistributedSampler() if is_initialized() else None
    train_loader = DataLoader(train, batch_size=config.batch_size, shuffle=True,
                              transform=Compose([*augment, normalizer]), generator=generator,
                              sampler=sampler, mix=mix)

    def plain(ds, sampler=None):
        return None if ds is None else DataLoader(ds, batch_size=512, transform=normalizer,
                                                  sampler=sampler)

    return train_loader, plain(val, sampler), plain(test)


# --- the run -------------------------------------------------------------------------------------


def train(config: TrainConfig, resume: str | None = None, overwrite: bool = False,
          on_prepared: Callable[[TrainConfig], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a run; return its summary.  Writes everything under the run folder.

    A new run refuses a folder that holds another run unless ``overwrite``; ``resume`` continues
    a run from its newest checkpoint (see :func:`resumed`). ``on_prepared`` is called with a new
    run's settled configuration once its folder is ready, before any data is read (the command
    line writes ``config.toml`` there).

    In a distributed job (``striate.distributed.init_process_group``) every rank calls it: the
    global batch of ``config.batch_size`` is shared out over the ranks, rank 0 alone writes
    and returns the summary (the others return an empty dict), and ``config.sync_bn``
    computes batch norm's statistics over all ranks."""
    from .. import distributed as dist
    from ..data import Normalizer
    from ..distributed.trainer import DistributedTrainer

    checkpoint = None
    if resume is not None:
        config, checkpoint = resumed(config, resume)
        if checkpoint is None:
            return _saved_summary(config.run_dir())
    check_config(config)
    config = settled(config)
    run_dir = config.run_dir()
    if dist.is_main_process():  # in a distributed job rank 0 alone touches the run folder
        check_writable(run_dir) if checkpoint else prepare(run_dir, overwrite=overwrite)
        if checkpoint is None and on_prepared is not None:
            on_prepared(config)
    manual_seed(config.seed)
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
    if config.sync_bn:
        dist.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer, -(-len(train_loader) // config.accumulate))
    channels, size, _ = test_set.image_shape
    meta = {"model": {"name": config.model, "num_classes": test_set.num_classes,
                      "in_channels": channels, "input_size": size, "args": config.model_args},
            "dataset": config.dataset, "classes": list(test_set.classes),
            "image_shape": list(test_set.image_shape),
            "normalizer": normalizer.state_dict(), "config": dataclasses.asdict(config)}
    trainer_class = DistributedTrainer if dist.is_initialized() else Trainer
    trainer = trainer_class(model, optimizer, train_loader, run_dir, meta, scheduler=scheduler,
                            val_loader=val_loader, patience=config.patience,
                            progress=config.progress,
                            loss_fn=cross_entropy_loss(config.label_smoothing),
                            accumulate=config.accumulate, clip_grad_norm=config.clip_grad_norm,
                            eval_loss_fn=cross_entropy_loss(0.0))
    tensorboard = None
    if config.tensorboard:
        from .tensorboard import log_to_tensorboard

        tensorboard = log_to_tensorboard(trainer)
    if checkpoint is not None:
        trainer.resume(checkpoint)
        print(f"resuming {run_dir} at epoch {trainer.epoch} of {config.epochs}")
    _describe(config, model, train_set, val_set, test_set)
    started = time.perf_counter()
    try:
        trainer.fit(config.epochs)
    except NonFiniteLossError as e:
        raise UserError(str(e)) from None
    finally:
        if tensorboard is not None:  # its event file, closed however the run ends
            tensorboard.close()
    seconds = time.perf_counter() - started
    if not dist.is_main_process():
        return {}
    return finish(trainer, test_loader, test_set, config, seconds)


def resumed(config: TrainConfig, resume: str) -> tuple[TrainConfig, Checkpoint | None]:
    """The saved run's configuration and newest checkpoint, or None when there is nothing to do.

    An unfinished run continues exactly where it stopped, with its own plan. A finished run
    (all its epochs done, or stopped early) stays as it is unless ``config.epochs`` asks for
    more: the added epochs then get a learning-rate schedule of their own, from the saved peak
    rate, as a warm restart (the finished schedule has nothing left to give).
    """
    source = resume_source(resume)
    checkpoint = load_checkpoint(source)
    meta = checkpoint.meta
    saved = dataclasses.replace(TrainConfig.from_meta(meta, source), out=str(source.parent),
                                progress=config.progress, plots=config.plots)
    done = int(meta["epoch"])
    stale = int(meta.get("stale_epochs", 0))
    finished = done >= saved.epochs or (saved.patience is not None and stale >= saved.patience)
    if not finished:
        if config.epochs and config.epochs != saved.epochs:
            raise UserError(
                f"{resume} was planned for {saved.epochs} epochs and its learning-rate schedule "
                f"depends on that; --resume continues that plan (omit --epochs), or start a "
                f"new run with --epochs {config.epochs}")
        return saved, checkpoint
    if config.epochs <= done:
        print(f"{source.parent} is finished ({done} of {saved.epochs} epochs"
              f"{', stopped early' if done < saved.epochs else ''}); nothing to do. Pass "
              f"--epochs N with N above {done} to train it longer.")
        return saved, None
    print(f"extending the finished run {source.parent} from {done} to {config.epochs} epochs, "
          f"with a new {saved.schedule} schedule for the added epochs")
    meta.update(scheduler=None, stale_epochs=0)
    return dataclasses.replace(saved, epochs=config.epochs, schedule_start=done), checkpoint


def finish(trainer: Trainer, test_loader, test_set, config: TrainConfig,
           seconds: float) -> dict[str, Any]:
    """Evaluate the final model on the test set; print and save results, plots and report."""
    from ..commands import command_line

    metrics, labels, preds = trainer.evaluate(test_loader)
    classes = list(test_set.classes)
    matrix = confusion_matrix(labels, preds, len(classes))
    summary = {"model": config.model, "dataset": config.dataset, "epochs": trainer.epoch,
               "test_accuracy": round(metrics.accuracy, 4), "test_top5": round(metrics.top5, 4),
               "test_loss": round(metrics.loss, 4),
               "best_val_accuracy": round(trainer.best_accuracy, 4),
               "test_set": describe_test_set(config, test_set),
               "train_seconds": round(seconds, 1), "command": command_line()}
    run_dir = config.run_dir()
    from ..fileio import atomic_write

    with atomic_write(run_dir / "summary.json", "w") as f:
        f.write(json.dumps(json_safe(summary), indent=2) + "\n")
    print(f"test accuracy {metrics.accuracy:.4f} (top-5 {metrics.top5:.4f}, loss "
          f"{metrics.loss:.4f}) after {trainer.epoch} epochs, {seconds:.0f} s of training")
    if config.plots:
        from .report import write_run_report

        report = write_run_report(trainer, test_set, test_loader, labels, preds, matrix,
                                  classes, summary)
        print(f"report: {report}")
    return summary


def _saved_summary(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def _step_options(config: TrainConfig) -> str:
    """The optimiser-step options that differ from the defaults, for the run's first line."""
    parts = [f" x {config.accumulate} per step" if config.accumulate > 1 else "",
             f", gradient norm <= {config.clip_grad_norm:g}" if config.clip_grad_norm else "",
             f", label smoothing {config.label_smoothing:g}" if config.label_smoothing else ""]
    return "".join(parts)


def _describe(config: TrainConfig, model, train_set, val_set, test_set) -> None:
    n_params = sum(p.numel() for p in model.parameters())
    sizes = f"{len(train_set)} train, {len(val_set) if val_set else 0} val, {len(test_set)} test"
    print(f"{config.model} ({n_params:,} parameters) on {config.dataset} ({sizes}); "
          f"{config.optimizer} lr {config.lr}, {config.schedule} schedule, batch "
          f"{config.batch_size}{_step_options(config)}, {config.epochs} epochs -> "
          f"{config.run_dir()}", flush=True)
    print(describe_test_set(config, test_set), flush=True)
