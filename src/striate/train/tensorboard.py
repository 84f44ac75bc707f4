"""TensorBoard event files of a run (``striate train --tensorboard``), through ``tensorboardX``,
an optional dependency (``pip install 'striate[tensorboard]'``).

Its log stands in for the trainer's metrics log (:class:`~striate.train.metrics.MetricsLog`),
so it sees what that log sees, when it sees it: each epoch's row (losses, accuracies, the
learning rate and the time, at step = the epoch) and, at the end of each epoch, the learning
rate of every optimiser step taken in it (tag ``lr/step``, at step = the optimiser step). Only
the process that writes the run folder writes them (rank 0 in a distributed job).

On resume the trainer rewrites its log from the checkpoint; here a new event file starts with
TensorBoard's "purge" marker at step 0, which makes TensorBoard drop what the earlier files
hold, and the checkpoint's history follows. The events then show the run as the checkpoints
hold it, with no duplicated or orphaned epochs, like ``metrics.csv``.

    tensorboard --logdir runs/lenet5-fashion-mnist/tensorboard
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import UserError

FOLDER = "tensorboard"  # in the run folder
INSTALL = "pip install tensorboardX (or pip install 'striate[tensorboard]')"


def tensorboardx() -> Any:
    """tensorboardX's synchronous event-file writer and its protobufs, as a namespace; a
    one-line :class:`UserError` when the package is missing. (``SummaryWriter`` writes from a
    thread of its own, so what it was given may not be on disk yet when an epoch ends.)"""
    try:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog
        from tensorboardX.proto.summary_pb2 import Summary
    except ImportError:
        raise UserError(f"--tensorboard needs the tensorboardX package: {INSTALL}") from None
    return SimpleNamespace(EventsWriter=EventsWriter, Event=Event, SessionLog=SessionLog,
                           Summary=Summary)


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a metrics-log column: ``train_loss`` -> ``loss/train`` (one
    section per quantity, the splits side by side), ``lr`` -> ``lr/epoch``."""
    split, _, quantity = key.partition("_")
    return f"{quantity}/{split}" if quantity else f"{key}/epoch"


class TensorBoardLog:
    """The trainer's metrics log, also written as TensorBoard scalars under ``folder``."""

    def __init__(self, log: Any, trainer: Any, folder: Path):
        self.tb = tensorboardx()
        self.log = log
        self.trainer = trainer
        self.folder = Path(folder)
        self._writer: Any = None
        self._lr_written = 0  # entries of trainer.lr_steps already in the events

    def append(self, row: dict[str, Any]) -> None:
        self.log.append(row)
        self._write_rows([row])

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        self.log.rewrite(rows)
        self.close()
        self._lr_written = 0
        self._write_rows(rows)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self) -> Any:
        """A new event file (named by the time, as TensorBoard orders them) that starts with
        the purge marker at step 0: TensorBoard forgets the earlier files' events."""
        self.folder.mkdir(parents=True, exist_ok=True)
        writer = self.tb.EventsWriter(str(self.folder / "events"),
                                      filename_suffix=f".{time.time_ns() % 10**9:09d}")
        writer.write_event(self.tb.Event(wall_time=time.time(), step=0, session_log=(
            self.tb.SessionLog(status=self.tb.SessionLog.START))))
        return writer

    def _scalar(self, tag: str, value: float, step: int) -> None:
        summary = self.tb.Summary(value=[self.tb.Summary.Value(tag=tag,
                                                               simple_value=float(value))])
        self._writer.write_event(self.tb.Event(wall_time=time.time(), step=int(step),
                                               summary=summary))

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        if self._writer is None:
            self._writer = self._open()
        for row in rows:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._scalar(scalar_tag(key), value, row["epoch"])
        steps = self.trainer.lr_steps
        for step in range(self._lr_written, len(steps)):
            self._scalar("lr/step", steps[step], step + 1)
        self._lr_written = len(steps)
        self._writer.flush()


def log_to_tensorboard(trainer: Any) -> TensorBoardLog | None:
    """Make ``trainer`` write its metrics to ``RUN/tensorboard/`` too, if it writes the run
    folder (rank 0 alone in a distributed job); the log, for the caller to close."""
    if not trainer.writes_files:
        return None
    trainer.log = TensorBoardLog(trainer.log, trainer, trainer.run_dir / FOLDER)
    return trainer.log
