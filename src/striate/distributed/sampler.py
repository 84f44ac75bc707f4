"""``DistributedSampler``: each rank's share of every batch of an epoch's shuffled order.

The :class:`~striate.data.DataLoader` draws one permutation per epoch from its generator (the
same seed on every rank gives every rank the same order) and cuts it into batches of
``batch_size`` items, the global batch.  With a sampler, rank r of W keeps the r-th of W
contiguous parts of each batch (sizes differing by at most one), so over an epoch every item is
seen exactly once, by exactly one rank, and W ranks take the optimiser steps of one process with
the whole batch.  Nothing of it depends on the number of ranks but the split: the loader's state
(its generator before the epoch and the batches done) resumes with any number of ranks.
"""

from __future__ import annotations

from typing import Any

from .process_group import get_rank, get_world_size


class DistributedSampler:
    """Which part of each global batch this rank takes (``DataLoader(..., sampler=...)``).

    ``num_replicas`` and ``rank`` default to the process group's.  Unlike PyTorch's sampler it
    does not order the items (the loader's generator does, seeded) and does not pad: a batch
    smaller than the number of ranks leaves some ranks an empty share.
    """

    def __init__(self, num_replicas: int | None = None, rank: int | None = None):
        self.num_replicas = get_world_size() if num_replicas is None else int(num_replicas)
        self.rank = get_rank() if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} outside "
                             f"[0, {self.num_replicas})")

    def bounds(self, n: int) -> tuple[int, int]:
        """This rank's [start, stop) within a batch of ``n`` items."""
        w, r = self.num_replicas, self.rank
        return r * n // w, (r + 1) * n // w

    def split(self, indices: Any) -> Any:
        """This rank's contiguous part of a batch's ``indices``."""
        start, stop = self.bounds(len(indices))
        return indices[start:stop]

    def smallest_share(self, n: int, batch_size: int, drop_last: bool = False) -> int:
        """The fewest items any rank gets from any batch of an epoch over ``n`` items: a
        training step needs at least one on every rank (each rank takes part in every
        collective of the step)."""
        last = n % batch_size
        smallest = last if last and not drop_last else batch_size
        return min(smallest, n) // self.num_replicas

    def seed_key(self, epoch_seed: int, batch: int) -> list[int]:
        """The seed of batch ``batch``'s augmentation on this rank: rank 0's is a single
        process's, the others' differ, so no two ranks draw the same crops and flips."""
        return [epoch_seed, batch] if self.rank == 0 else [epoch_seed, batch, self.rank]

    def __repr__(self) -> str:
        return f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank})"

