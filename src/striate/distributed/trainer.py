"""``DistributedTrainer``: the :class:`~striate.train.trainer.Trainer` as one rank of a job.

Every rank runs the same loop on its share of each global batch (the loaders'
``DistributedSampler``).  What changes, and only here:

* the backward pass weights each rank's loss by its samples, and before each optimiser step the
  gradients are all-reduced and averaged (:class:`DistributedDataParallel`), which also makes
  the ranks agree on a stop request (Ctrl-C, SIGTERM), so they all stop after the same step;
* at an epoch's end the batch norm running statistics are averaged over the ranks and the
  training metrics summed; a sharded validation loader's metrics are summed too;
* rank 0 alone writes: checkpoints, the metrics log; the others neither write nor show progress.

Checkpoints hold nothing that depends on the number of ranks (the loader's state counts global
batches), so a run resumes with any number of ranks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..nn.module import Module
from ..tensor import Tensor
from ..train.checkpoint import Checkpoint
from ..train.metrics import RunningMetrics
from ..train.trainer import Trainer
from .data_parallel import DistributedDataParallel
from .metrics import reduce_metrics
from .process_group import get_backend


class _NoLog:
    """The metrics log of a rank that does not write."""

    def append(self, row: dict[str, Any]) -> None:
        pass

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        pass


class DistributedTrainer(Trainer):
    """A :class:`Trainer` for one rank of a data-parallel job (see the module docstring);
    takes the Trainer's arguments, and ``bucket_cap_mb``, the size of the gradient buffers."""

    def __init__(self, model: Module, optimizer: Any, train_loader: Any, run_dir: str | Path,
                 meta: dict[str, Any], *, bucket_cap_mb: float = 25.0, **kwargs: Any):
        backend = get_backend()
        self.rank, self.world_size = backend.rank, backend.world_size
        sampler = getattr(train_loader, "sampler", None)
        if sampler is None or sampler.num_replicas != self.world_size:
            raise ValueError("DistributedTrainer: the training loader needs a "
                             "DistributedSampler over the process group's ranks")
        share = sampler.smallest_share(len(train_loader.dataset), train_loader.batch_size,
                                       train_loader.drop_last)
        if share < 1:
            raise UserError(
                f"with {self.world_size} ranks some would get no image of a training batch "
                f"({len(train_loader.dataset)} images in batches of "
                f"{train_loader.batch_size}); --batch-size is split over the ranks: choose one "
                f"of at least {self.world_size} whose last batch also has as many")
        self.ddp = DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
        self._stop_agreed = False
        kwargs["progress"] = kwargs.get("progress", True) and self.rank == 0
        super().__init__(model, optimizer, train_loader, run_dir, meta, **kwargs)
        if not self.writes_files:
            self.log = _NoLog()

    @property
    def writes_files(self) -> bool:
        return self.rank == 0

    def _backward(self, loss: Tensor, batch_size: int, scale: float) -> None:
        self.ddp.backward(loss, batch_size, scale)

    def _reduce_gradients(self) -> None:
        self._stop_agreed = self.ddp.reduce_gradients(stop=self._stop_requested)

    def _stopping(self) -> bool:
        return self._stop_agreed

    def train_epoch(self) -> RunningMetrics:
        metrics = super().train_epoch()
        self.ddp.average_buffers()
        return reduce_metrics(metrics)

    def evaluate(self, loader: Any) -> tuple[RunningMetrics, np.ndarray, np.ndarray]:
        """As the Trainer's; a loader sharded over the ranks gives the metrics of all ranks
        (the labels and predictions stay this rank's)."""
        metrics, labels, predictions = super().evaluate(loader)
        if getattr(loader, "sampler", None) is not None:
            reduce_metrics(metrics)
        return metrics, labels, predictions

    def save(self, name: str) -> Path:
        """Rank 0 writes the checkpoint; the others only note that it exists."""
        if self.writes_files:
            return super().save(name)
        if name == "last":
            self.saved_epoch = self.epoch
        return self.run_dir / f"{name}.safetensors"

    def resume(self, checkpoint: Checkpoint) -> None:
        """As the Trainer's, then rank 0's weights and buffers to every rank."""
        super().resume(checkpoint)
        self.ddp.broadcast_state()

    def _print_epoch(self, row: dict[str, Any]) -> None:
        if self.writes_files:
            super()._print_epoch(row)
