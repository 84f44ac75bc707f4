"""The transport under :mod:`striate.distributed`: a :class:`Backend` moves arrays between ranks.

Everything above this file (gradient buckets, synchronised batch norm, metrics) calls only
``all_reduce``, ``broadcast``, ``barrier`` and ``abort`` on arrays, in place, so another
transport (NCCL through CuPy for GPU arrays) is one more subclass and no change for users.

:class:`MPIBackend` runs over ``mpi4py`` (imported when a process group is set up, never by
``import striate``).  Every collective is started non-blocking and waited for with a deadline
(the watchdog): a rank that died, hangs or left the loop early leaves the others waiting, and
after ``timeout`` seconds they print which collective timed out and abort the whole job, so a
failed run ends within a bounded time instead of hanging until someone notices.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from typing import Any, NoReturn

OPS = ("sum", "max", "min")


class Backend(ABC):
    """A communicator over ``world_size`` processes, this one being ``rank``.

    ``local_size`` is the number of ranks on this machine (to share its cores).  The collectives
    work in place on contiguous arrays of the same shape and dtype on every rank, and every rank
    must call them in the same order.
    """

    name = "abstract"
    rank = 0
    world_size = 1
    local_size = 1

    @abstractmethod
    def all_reduce(self, array: Any, op: str = "sum") -> None:
        """Replace ``array`` on every rank by the element-wise ``op`` over all ranks."""

    @abstractmethod
    def broadcast(self, array: Any, src: int = 0) -> None:
        """Overwrite ``array`` on every rank with rank ``src``'s."""

    @abstractmethod
    def barrier(self) -> None:
        """Return once every rank has called it."""

    @abstractmethod
    def abort(self, code: int = 1) -> NoReturn:
        """End every rank of the job now with exit status ``code``."""


class SingleProcess(Backend):
    """The one-rank world of a process without MPI: every collective leaves the data as it is."""

    name = "single"

    def all_reduce(self, array: Any, op: str = "sum") -> None:
        _check_op(op)

    def broadcast(self, array: Any, src: int = 0) -> None:
        if src != 0:
            raise ValueError(f"broadcast: src {src} outside a world of 1 rank")

    def barrier(self) -> None:
        pass

    def abort(self, code: int = 1) -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        raise SystemExit(code)


class MPIBackend(Backend):
    """MPI's ``COMM_WORLD`` through mpi4py, each collective watched by a deadline of
    ``timeout`` seconds (None: wait for ever, with MPI's own blocking calls)."""

    name = "mpi"

    def __init__(self, timeout: float | None = None):
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError("the MPI backend needs mpi4py and an MPI library: "
                               "pip install 'striate[distributed]' (mpi4py, mpich)") from e
        self._mpi = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_size = local.Get_size()
        local.Free()
        self.timeout = timeout
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def all_reduce(self, array: Any, op: str = "sum") -> None:
        _check_op(op)
        _check_contiguous(array, "all_reduce")
        if self.world_size > 1:
            self._wait(self.comm.Iallreduce(self._mpi.IN_PLACE, array, op=self._ops[op]),
                       "all_reduce")

    def broadcast(self, array: Any, src: int = 0) -> None:
        _check_contiguous(array, "broadcast")
        if self.world_size > 1:
            self._wait(self.comm.Ibcast(array, root=src), "broadcast")

    def barrier(self) -> None:
        if self.world_size > 1:
            self._wait(self.comm.Ibarrier(), "barrier")

    def abort(self, code: int = 1) -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: MPI ends the process

    def _wait(self, request: Any, what: str) -> None:
        """Wait for ``request``, polling, and abort the job when the deadline passes."""
        if self.timeout is None:
            request.Wait()
            return
        start = time.monotonic()
        deadline, pause = start + self.timeout, 0.0
        while not request.Test():
            now = time.monotonic()
            if now > deadline:
                print(f"striate.distributed: rank {self.rank} of {self.world_size} waited "
                      f"{self.timeout:g} s in {what} for the other ranks (one has died, hangs "
                      "or stopped early); aborting the job", file=sys.stderr, flush=True)
                self.abort(1)
            if now - start > 1e-3:  # spin for a millisecond, then back off up to 1 ms a poll
                pause = min(1e-3, pause * 2 or 1e-5)
                time.sleep(pause)


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ValueError(f"unknown reduction {op!r}; choose from {', '.join(OPS)}")


def _check_contiguous(array: Any, what: str) -> None:
    flags = getattr(array, "flags", None)
    if flags is None or not flags.c_contiguous:
        raise ValueError(f"{what}: needs a C-contiguous array, got {type(array).__name__}")
