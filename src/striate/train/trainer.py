"""The training loop: epochs of mini-batch SGD, validation, checkpoints, and the guards around them.

With ``accumulate = N`` the gradients of N batches are summed (each loss divided by the number of
batches in its group, N but at an epoch's end) before one optimiser step, which is then the step
of one batch of N·B images, batch norm's per-batch statistics aside; a stop request waits for the
end of the group, so a checkpoint never holds a partial sum.

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
from ..data.mixing import mixed_loss
from ..nn import functional as F
from ..nn.clip_grad import clip_grad_norm_
from ..nn.module import Module
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..random import default_generator
from ..tensor import Tensor, no_grad
from .checkpoint import Checkpoint, save_checkpoint
from .metrics import MetricsLog, RunningMetrics


class NonFiniteLossError(RuntimeError):
    """The loss or the weights became NaN or infinite; no checkpoint holds them."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped training after a step; ``last`` holds that state."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and what batch schedulers send


class Trainer:
    """Trains ``model`` with ``optimizer`` and an optional ``scheduler``, stepped after every
    optimiser step, or, a ``ReduceLROnPlateau``, after every epoch with the validation loss (the
    training loss without a validation set).

    ``meta`` is what the checkpoints carry besides the weights (model name and arguments,
    normalisation, classes); the trainer adds epoch, history, scheduler and RNG states.
    ``accumulate`` batches make one optimiser step (see the module docstring); with
    ``clip_grad_norm`` the gradients are rescaled to at most that total L2 norm before each
    step.  ``loss_fn`` is the training loss, ``eval_loss_fn`` (by default the same) the one
    reported for validation and test.
    """

    def __init__(self, model: Module, optimizer: Any, train_loader: Any, run_dir: str | Path,
                 meta: dict[str, Any], scheduler: Any = None, val_loader: Any = None,
                 patience: int | None = None, progress: bool = True,
                 loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
                 accumulate: int = 1, clip_grad_norm: float | None = None,
                 eval_loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None):
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
        self.eval_loss_fn = loss_fn if eval_loss_fn is None else eval_loss_fn
        self.accumulate = int(accumulate)
        self.clip_grad_norm = clip_grad_norm
        self._per_epoch_schedule = isinstance(scheduler, ReduceLROnPlateau)
        self._pending = 0             # batches summed into the gradients since the last step
        self._group = 1               # batches in the current optimiser step
        self._left = 0                # batches of the epoch not yet taken
        self.epoch = 0                # epochs completed
        self.history: list[dict[str, Any]] = []
        self.lr_steps: list[float] = []  # the learning rate of every optimiser step, in order
        self.best_accuracy = -1.0
        self.stale = 0                # epochs since the validation accuracy last improved
        self.saved_epoch: int | None = None  # the epoch the run folder's last checkpoint holds
        self._stop_requested = False  # set by Ctrl-C or SIGTERM, honoured between two steps
        self._stop_signal = signal.SIGINT
        if self.writes_files:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir)

    # --- one epoch -------------------------------------------------------------------------------
    def train_epoch(self) -> RunningMetrics:
        """One pass over the training loader (from where a resumed checkpoint stopped)."""
        self.model.train()
        loader = self.train_loader
        metrics = RunningMetrics()
        bar = _progress(len(loader), f"epoch {self.epoch + 1}", self.progress)
        done = loader.state_dict()["batches_done"]
        bar.update(done)
        self._left, self._pending = len(loader) - done, 0
        start, seen = time.perf_counter(), 0
        for images, labels in loader:
            loss, logits = self.train_step(images, labels)
            metrics.update(loss, logits, np.asarray(labels))  # mixed: the dominant labels
            seen += len(labels)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics.loss:.4f}", acc=f"{metrics.accuracy:.3f}",
                            lr=f"{self.current_lr():.3g}",
                            img_s=f"{seen / (time.perf_counter() - start):.0f}", refresh=False)
            if self._stopping() and self._pending == 0:  # between two optimiser steps
                bar.close()
                raise TrainingInterrupted(self._stop_signal)
        bar.close()
        return metrics

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward, loss, backward, and, at the last batch of an accumulation group (every
        batch by default), clipping and the update; refuses a non-finite loss.  Returns the
        batch's loss (unscaled) and logits."""
        if self._pending == 0:  # the first batch of a group: how many follow, from zero grads
            self._group = min(self.accumulate, self._left) if self._left > 0 else self.accumulate
            self.optimizer.zero_grad()
        logits = self.model(Tensor(images))
        heads = ()
        if isinstance(logits, tuple):  # GoogLeNet's auxiliary heads (training mode only)
            logits, *heads = logits
        loss = mixed_loss(self.loss_fn, logits, labels)  # λ-weighted for mixup and cutmix
        for head in heads:  # weighted 0.3 each, as Szegedy et al. (2015) do
            loss = loss + 0.3 * mixed_loss(self.loss_fn, head, labels)
        value = float(loss.item())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"the loss became {value} during epoch {self.epoch + 1}; "
                                     f"training stopped. {self.kept()} Try a lower --lr.")
        self._backward(loss, len(labels), 1.0 / self._group)
        self._pending += 1
        self._left -= 1
        if self._pending >= self._group:
            self._pending = 0
            self._reduce_gradients()
            if self.clip_grad_norm is not None:
                clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
            self.lr_steps.append(self.current_lr())
            self.optimizer.step()
            if self.scheduler is not None and not self._per_epoch_schedule:
                self.scheduler.step()
        return value, backend.to_numpy(logits.data)

    def evaluate(self, loader: Any) -> tuple[RunningMetrics, np.ndarray, np.ndarray]:
        return evaluate(self.model, loader, self.eval_loss_fn)

    # --- what data-parallel training changes (striate.distributed.DistributedTrainer) -----------
    writes_files = True  # whether this process writes the run folder (rank 0 alone, in a job)

    def _backward(self, loss: Tensor, batch_size: int, scale: float) -> None:
        """Backward of ``loss`` (a mean over ``batch_size`` samples) times ``scale``."""
        (loss if scale == 1 else loss * scale).backward()

    def _reduce_gradients(self) -> None:
        """Called once the gradients of an optimiser step are complete, before clipping."""

    def _stopping(self) -> bool:
        """Whether to stop after this optimiser step (Ctrl-C or SIGTERM arrived)."""
        return self._stop_requested

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # --- the run ---------------------------------------------------------------------------------
    def fit(self, epochs: int) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs are done (counting those of a resumed checkpoint).

        Ctrl-C or SIGTERM finishes the current step, saves ``last.safetensors`` (resumable
        mid-epoch) and raises :class:`TrainingInterrupted`; a second one stops at once. An
        epoch that ends with a non-finite loss or weights raises :class:`NonFiniteLossError`
        and saves nothing, so the checkpoints keep the last good epoch (NumPy's floating-point
        warnings are silenced meanwhile: that error says it, once).  Tunes the process for
        training first (``st.backends.tune_process``: allocator and BLAS threads, for good).
        """
        from ..backends import tune_process

        tune_process()
        try:
            with self._stop_between_steps(), np.errstate(over="ignore", invalid="ignore",
                                                         divide="ignore"):
                while self.epoch < epochs:
                    started = time.perf_counter()
                    train = self.train_epoch()
                    row = {"epoch": self.epoch + 1, "train_loss": train.loss,
                           "train_acc": train.accuracy, "lr": self.current_lr(),
                           "seconds": round(time.perf_counter() - started, 2)}
                    val = None
                    if self.val_loader is not None:
                        val, _, _ = self.evaluate(self.val_loader)
                        row.update(val_loss=val.loss, val_acc=val.accuracy, val_top5=val.top5)
                    self._refuse_non_finite(row)
                    if self._per_epoch_schedule:  # the next epoch's rate, in the checkpoint
                        self.scheduler.step(val.loss if val is not None else train.loss)
                    improved = val is not None and val.accuracy > self.best_accuracy
                    self.best_accuracy = max(self.best_accuracy, val.accuracy if val else -1.0)
                    self.stale = 0 if improved or val is None else self.stale + 1
                    self.epoch += 1
                    self.history.append(row)
                    if improved:  # best before last: a kill between them leaves last older,
                        self.save("best")  # and resuming from it redoes the epoch and both
                    self.save("last")  # the log row follows the checkpoints (rewritten on resume)
                    self.log.append(row)
                    self._print_epoch(row)
                    if self.patience is not None and self.stale >= self.patience:
                        print(f"early stopping: validation accuracy has not improved for "
                              f"{self.patience} epochs")
                        break
        except TrainingInterrupted:
            self.save("last")
            print(f"\ninterrupted: saved {self.run_dir / 'last.safetensors'}; "
                  "continue with --resume")
            raise
        return self.history

    def _refuse_non_finite(self, row: dict[str, Any]) -> None:
        """Stop before an epoch whose loss or weights are not finite reaches a checkpoint."""
        losses = [row[k] for k in ("train_loss", "val_loss") if k in row]
        bad = self._non_finite_weights()
        if all(math.isfinite(v) for v in losses) and not bad:
            return
        what = (f"the weights became non-finite ({', '.join(bad[:3])})" if bad else
                f"the {'validation' if 'val_loss' in row else 'training'} loss became "
                f"{row.get('val_loss', row['train_loss'])}")
        raise NonFiniteLossError(f"at the end of epoch {self.epoch + 1} {what}; training "
                                 f"stopped and that epoch was not saved. {self.kept()} "
                                 "Try a lower --lr.")

    def _non_finite_weights(self) -> list[str]:
        return [name for name, value in self.model.state_dict().items()
                if not np.isfinite(backend.to_numpy(value)).all()]

    def kept(self) -> str:
        """What the run folder holds after a stop, in words."""
        if self.saved_epoch is None:
            return f"No checkpoint was written to {self.run_dir}: no epoch ended in a good state."
        best = (f"; best.safetensors holds the epoch with the best validation accuracy "
                f"({self.best_accuracy:.4f})" if self.best_accuracy >= 0 else "")
        return (f"{self.run_dir / 'last.safetensors'} holds epoch {self.saved_epoch}, the last "
                f"good one{best}.")

    @contextmanager
    def _stop_between_steps(self):
        """Turn the first Ctrl-C or SIGTERM into a request to stop after the current step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

        def request_stop(signum, frame):
            self._stop_requested, self._stop_signal = True, signum
            signal.signal(signum, previous[signum])  # a second one acts at once

        for signum in STOP_SIGNALS:
            signal.signal(signum, request_stop)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _print_epoch(self, row: dict[str, Any]) -> None:
        text = (f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_acc']:.4f}")
        if "val_acc" in row:
            text += f" | val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}"
        print(text + f" | {row['seconds']:.1f} s", flush=True)

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, name: str) -> Path:
        """Write ``<run_dir>/<name>.safetensors`` atomically; never with non-finite weights."""
        bad = self._non_finite_weights()
        if bad:
            raise NonFiniteLossError(f"the weights became non-finite ({', '.join(bad[:3])}), so "
                                     f"{name}.safetensors was not written. {self.kept()}")
        meta = dict(self.meta)
        meta.update(
            epoch=self.epoch, history=self.history, lr_steps=self.lr_steps,
            best_accuracy=self.best_accuracy,
            stale_epochs=self.stale,
            loader_rng=self.train_loader.state_dict(),
            global_rng=default_generator().bit_generator.state,
            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None)
        path = save_checkpoint(self.run_dir / f"{name}.safetensors", self.model.state_dict(),
                               meta, self.optimizer.state_dict())
        if name == "last":
            self.saved_epoch = self.epoch
        return path

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
        self.lr_steps = list(meta.get("lr_steps", []))
        self.best_accuracy = float(meta.get("best_accuracy", -1.0))
        self.stale = int(meta.get("stale_epochs", 0))
        self.saved_epoch = self.epoch
        self.train_loader.load_state_dict(meta["loader_rng"])
        default_generator().bit_generator.state = meta["global_rng"]
        self.log.rewrite(self.history)


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
    empty = np.zeros(0, np.int64)
    return metrics, np.concatenate([empty, *labels_all]), np.concatenate([empty, *preds_all])


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar (or a silent stand-in when progress is off)."""
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()  # in a log file, a line every 15 s is plenty
    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=not enabled,
                dynamic_ncols=True, mininterval=0.5 if interactive else 15)
