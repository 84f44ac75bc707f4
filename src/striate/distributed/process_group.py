"""The process group: which rank this process is, how many there are, and the collectives.

As ``torch.distributed``: :func:`init_process_group` once per process (from the environment
that ``mpiexec`` sets up), then :func:`get_rank`, :func:`get_world_size` and the collectives on
tensors or arrays.  Before it, or without MPI, the process is rank 0 of a world of 1 and every
collective leaves its data unchanged, so code written for several ranks runs alone as it is.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from typing import Any

from .backend import Backend, MPIBackend, SingleProcess

DEFAULT_TIMEOUT = 300.0
"""Seconds a collective waits for the other ranks before the job is aborted
(``STRIATE_DIST_TIMEOUT`` overrides it)."""

_group: Backend | None = None


def is_available() -> bool:
    """Whether mpi4py is installed (``pip install 'striate[distributed]'``)."""
    return importlib.util.find_spec("mpi4py") is not None


def init_process_group(backend: str | Backend = "mpi",
                       timeout: float | timedelta | None = None) -> Backend:
    """Join the job's process group; every rank calls it once, before any collective.

    ``backend`` is ``"mpi"`` (mpi4py over the MPI library that launched the job) or a
    :class:`Backend` instance (another transport).  ``timeout`` bounds every collective
    (seconds or a ``timedelta``; default ``STRIATE_DIST_TIMEOUT`` or 300 s): past it the job is
    aborted with a message, so a dead or stuck rank cannot hang the others.
    """
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: the process group is already initialised")
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    if timeout is None:
        timeout = float(os.environ.get("STRIATE_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    if isinstance(backend, Backend):
        _group = backend
    elif backend == "mpi":
        _group = MPIBackend(timeout=timeout)
    else:
        raise ValueError(f"unknown backend {backend!r}; striate has 'mpi' (NCCL may follow)")
    return _group


def destroy_process_group() -> None:
    """Leave the process group: this process is a world of one again."""
    global _group
    _group = None


def is_initialized() -> bool:
    """Whether :func:`init_process_group` was called (and not undone)."""
    return _group is not None


def get_backend() -> Backend:
    """The communicator in use (a one-rank stand-in before :func:`init_process_group`)."""
    return _group if _group is not None else SingleProcess()


def get_rank() -> int:
    """This process's rank, 0 to ``get_world_size() - 1`` (0 outside a process group)."""
    return get_backend().rank


def get_world_size() -> int:
    """The number of ranks (1 outside a process group)."""
    return get_backend().world_size


def is_main_process() -> bool:
    """Whether this is rank 0, the one that writes files and prints."""
    return get_rank() == 0


def all_reduce(tensor: Any, op: str = "sum") -> Any:
    """Reduce a tensor or array over all ranks in place (``op``: sum, max, min); returns it."""
    get_backend().all_reduce(_array(tensor), op)
    return tensor


def broadcast(tensor: Any, src: int = 0) -> Any:
    """Overwrite a tensor or array on every rank with rank ``src``'s, in place; returns it."""
    get_backend().broadcast(_array(tensor), src)
    return tensor


def barrier() -> None:
    """Wait until every rank has reached this call."""
    get_backend().barrier()


def abort(code: int = 1) -> None:
    """End every rank of the job now, with exit status ``code``."""
    get_backend().abort(code)


def _array(tensor: Any) -> Any:
    from ..tensor import Tensor

    return tensor.data if isinstance(tensor, Tensor) else tensor
