"""Data-parallel training over MPI, in the manner of ``torch.distributed``.

Every rank holds a replica of the model and takes its share of each global batch; after the
backward pass the gradients are averaged over the ranks, so every replica takes the same step,
the step of one process with the whole batch.  Pieces, one a file:

* ``backend.py``: the transport (:class:`Backend`: all-reduce, broadcast, barrier, abort; MPI
  through mpi4py, with a deadline on every collective), the one place to add NCCL;
* ``process_group.py``: :func:`init_process_group`, :func:`get_rank`,
  :func:`get_world_size` and the collectives on tensors;
* ``sampler.py``: :class:`DistributedSampler`, each rank's share of every batch;
* ``data_parallel.py``: :class:`DistributedDataParallel`, parameters broadcast at the start and
  gradients all-reduced in a few large buffers;
* ``sync_batch_norm.py``: :class:`SyncBatchNorm`, batch statistics over all ranks;
* ``metrics.py``, ``trainer.py``: metrics summed over the ranks, and the trainer of one rank;
* ``launch.py``: ``striate train --workers N`` and ``--distributed``, and the abort of the
  whole job when one rank fails.

Nothing here imports mpi4py until :func:`init_process_group` is called.  See
docs/distributed.md.
"""

from .backend import Backend, MPIBackend, SingleProcess
from .data_parallel import DistributedDataParallel
from .metrics import reduce_metrics
from .process_group import (
    abort,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
)
from .sampler import DistributedSampler
from .sync_batch_norm import SyncBatchNorm

__all__ = [
    "Backend", "DistributedDataParallel", "DistributedSampler", "MPIBackend", "SingleProcess",
    "SyncBatchNorm", "abort", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_main_process", "reduce_metrics",
]
