"""The training loop: epochs of mini-batch SGD, validation, checkpoints, and the guards around them.

All randomness of a run comes from two generators: the loader's (shuffling and augmentation) and
the global one (dropout).  A checkpoint stores both; the loader's state includes how many batches
of the current epoch were done, so ``resume`` continues exactly where a run stopped, even
mid-epoch after Ctrl-C, and ends with the same weights as an uninterrupted run.  Ctrl-C is honoured
between two steps, never inside one, so a checkpoint never holds a half-applied update.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..nn import functional as F
from ..nn.module import Module
from ..tensor import Tensor, no_grad
from .checkpoint import Checkpoint, save_checkpoint
from .metrics import MetricsLog, RunningMetrics


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class Trainer:
    """Trains ``model`` with ``optimizer`` (and an optional per-step ``scheduler``).

    ``meta`` is what the checkpoints carry besides the weights (model name and arguments,
    normalisation, classes); the trainer adds epoch, history, scheduler and RNG states.
    """

    def __init__(self, model: Module, optimizer: Any, train_loader: Any, run_dir: str | Path,
                 meta: dict[str, Any], scheduler: Any = None, val_loader: Any = None,
                 patience: int | None = None, progress: bool = True,
                 loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.run_dir = Path(run_dir)
        self.meta = meta
        self.patience = patience
        self.progress = progress
        self.loss_fn = loss_fn
        self.epoch = 0                # epochs completed
        self.history: list[dict[str, Any]] = []
        self.best_accuracy = -1.0
        self._stop_requested = False  # set by Ctrl-C, honoured between two steps
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir)

    # --- one epoch -------------------------------------------------------------------------------
    def train_epoch(self) -> RunningMetrics:
        """One pass over the training loader (from where a resumed checkpoint stopped)."""
        self.model.train()
        loader = self.train_loader
        metrics = RunningMetrics()
        bar = _progress(len(loader), f"epoch {self.epoch + 1}", self.progress)
        bar.update(loader.state_dict()["batches_done"])
        start, seen = time.perf_counter(), 0
        for images, labels in loader:
            loss, logits = self.train_step(images, labels)
            metrics.update(loss, logits, labels)
            seen += len(labels)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics.loss:.4f}", acc=f"{metrics.accuracy:.3f}",
                            lr=f"{self.current_lr():.3g}",
                            img_s=f"{seen / (time.perf_counter() - start):.0f}", refresh=False)
            if self._stop_requested:
                bar.close()
                raise KeyboardInterrupt
        bar.close()
        return metrics

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward, loss, backward, update; refuses to take a step on a non-finite loss."""
        logits = self.model(Tensor(images))
        loss = self.loss_fn(logits, Tensor(labels))
        value = float(loss.item())
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"the loss became {value} at epoch {self.epoch + 1}; training stopped and the "
                f"last good checkpoint in {self.run_dir} was kept. Try a lower --lr.")
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return value, backend.to_numpy(logits.data)

    def evaluate(self, loader: Any) -> tuple[RunningMetrics, np.ndarray, np.ndarray]:
        return evaluate(self.model, loader, self.loss_fn)

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # --- the run ---------------------------------------------------------------------------------
    def fit(self, epochs: int) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs are done (counting those of a resumed checkpoint).

        Ctrl-C finishes the current step, saves ``last.safetensors`` (resumable mid-epoch) and
        raises KeyboardInterrupt; a second Ctrl-C stops at once.
        """
        stale = 0
        try:
            with self._ctrl_c_between_steps():
                while self.epoch < epochs:
                    started = time.perf_counter()
                    train = self.train_epoch()
                    row = {"epoch": self.epoch + 1, "train_loss": train.loss,
                           "train_acc": train.accuracy, "lr": self.current_lr(),
                           "seconds": round(time.perf_counter() - started, 2)}
                    improved = False
                    if self.val_loader is not None:
                        val, _, _ = self.evaluate(self.val_loader)
                        row.update(val_loss=val.loss, val_acc=val.accuracy, val_top5=val.top5)
                        improved = val.accuracy > self.best_accuracy
                        self.best_accuracy = max(self.best_accuracy, val.accuracy)
                    self.epoch += 1
                    self.history.append(row)
                    self.log.append(row)
                    self._print_epoch(row)
                    self.save("last")
                    if improved:
                        self.save("best")
                    stale = 0 if improved or self.val_loader is None else stale + 1
                    if self.patience is not None and stale >= self.patience:
                        print(f"early stopping: validation accuracy has not improved for "
                              f"{self.patience} epochs")
                        break
        except KeyboardInterrupt:
            if self._stop_requested:
                self.save("last")
                print(f"\ninterrupted: saved {self.run_dir / 'last.safetensors'}; "
                      "continue with --resume")
            raise
        return self.history

    @contextmanager
    def _ctrl_c_between_steps(self):
        """Turn the first Ctrl-C into a request to stop after the current step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum, frame):
            self._stop_requested = True
            signal.signal(signal.SIGINT, previous)  # a second Ctrl-C interrupts at once

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _print_epoch(self, row: dict[str, Any]) -> None:
        text = (f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_acc']:.4f}")
        if "val_acc" in row:
            text += f" | val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}"
        print(text + f" | {row['seconds']:.1f} s", flush=True)

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, name: str) -> Path:
        """Write ``<run_dir>/<name>.safetensors`` atomically."""
        meta = dict(self.meta)
        meta.update(
            epoch=self.epoch, history=self.history, best_accuracy=self.best_accuracy,
            loader_rng=self.train_loader.state_dict(),
            global_rng=backend.default_generator().bit_generator.state,
            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None)
        return save_checkpoint(self.run_dir / f"{name}.safetensors", self.model.state_dict(),
                               meta, self.optimizer.state_dict())

    def resume(self, checkpoint: Checkpoint) -> None:
        """Restore weights, optimiser, schedule, RNG streams and position from a checkpoint."""
        meta = checkpoint.meta
        self.model.load_state_dict(checkpoint.model_state)
        if checkpoint.optimizer_state is not None:
            self.optimizer.load_state_dict(checkpoint.optimizer_state)
        if self.scheduler is not None and meta.get("scheduler"):
            self.scheduler.load_state_dict(meta["scheduler"])
        self.epoch = int(meta["epoch"])
        self.history = list(meta.get("history", []))
        self.best_accuracy = float(meta.get("best_accuracy", -1.0))
        self.train_loader.load_state_dict(meta["loader_rng"])
        backend.default_generator().bit_generator.state = meta["global_rng"]
        self.log.truncate(self.epoch)


def evaluate(model: Module, loader: Any, loss_fn: Callable = F.cross_entropy
             ) -> tuple[RunningMetrics, np.ndarray, np.ndarray]:
    """Loss and accuracy over ``loader`` in eval mode, with all labels and predictions."""
    model.eval()
    metrics = RunningMetrics()
    labels_all, preds_all = [], []
    with no_grad():
        for images, labels in loader:
            logits = model(Tensor(images))
            loss = float(loss_fn(logits, Tensor(labels)).item())
            out = backend.to_numpy(logits.data)
            metrics.update(loss, out, labels)
            labels_all.append(labels)
            preds_all.append(out.argmax(axis=1))
    return metrics, np.concatenate(labels_all), np.concatenate(preds_all)


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar (or a silent stand-in when progress is off)."""
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()  # in a log file, a line every 15 s is plenty
    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=not enabled,
                dynamic_ncols=True, mininterval=0.5 if interactive else 15)
