"""DistributedSampler with the DataLoader: every item once per epoch, seeded, resumable."""

import numpy as np
import pytest

from striate.data import ArrayDataset, DataLoader
from striate.distributed import DistributedSampler


def dataset(n: int) -> ArrayDataset:
    return ArrayDataset(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), np.zeros(n, np.int64))


def epoch(loader) -> list[list[int]]:
    """Each batch's items; a rank's empty share (which the loader skips) as []."""
    batches = [[] for _ in range(len(loader))]
    for images, _ in loader:
        batches[loader.state_dict()["batches_done"] - 1] = images[:, 0, 0, 0].astype(int).tolist()
    return batches


def loaders(n: int, batch: int, world: int, seed: int = 7) -> list[DataLoader]:
    return [DataLoader(dataset(n), batch_size=batch, shuffle=True, prefetch=0,
                       generator=np.random.default_rng(seed),
                       sampler=DistributedSampler(world, rank)) for rank in range(world)]


@pytest.mark.parametrize("n, batch, world", [(100, 32, 2), (101, 10, 3), (64, 8, 8), (7, 7, 4)])
def test_every_item_exactly_once_per_epoch_and_each_batch_the_single_process_batch(n, batch,
                                                                                 world):
    single = DataLoader(dataset(n), batch_size=batch, shuffle=True, prefetch=0,
                        generator=np.random.default_rng(7))
    ranks = loaders(n, batch, world)
    for _ in range(2):  # two epochs: a new order each
        whole = epoch(single)
        shares = [epoch(loader) for loader in ranks]
        assert sorted(sum((sum(s, []) for s in shares), [])) == list(range(n))
        for b, items in enumerate(whole):  # batch b of all ranks together = batch b alone
            assert sum((s[b] for s in shares), []) == items
            sizes = [len(s[b]) for s in shares]
            assert max(sizes) - min(sizes) <= 1
        assert all(len(loader) == len(single) for loader in ranks)


def test_the_order_is_seeded_and_differs_between_epochs():
    a, b, c = (loaders(50, 10, 2, seed)[1] for seed in (3, 3, 4))
    first = epoch(a)
    assert first == epoch(b) and first != epoch(c) and epoch(a) != first


def test_resume_mid_epoch_with_another_number_of_ranks():
    """The loader's state counts global batches: two ranks stop after 3 of 10, three ranks
    take the remaining 7 with the same order."""
    two = loaders(100, 10, 2)
    taken = [[] for _ in two]
    for r, loader in enumerate(two):
        for i, (images, _) in enumerate(loader):
            taken[r] += images[:, 0, 0, 0].astype(int).tolist()
            if i == 2:
                state = loader.state_dict()
                break
    three = loaders(100, 10, 3, seed=99)
    for loader in three:
        loader.load_state_dict(state)
    rest = sum((sum(epoch(loader), []) for loader in three), [])
    assert sorted(taken[0] + taken[1] + rest) == list(range(100))


def test_smallest_share_and_bad_ranks():
    assert DistributedSampler(4, 0).smallest_share(102, 32) == 1  # last batch: 6 over 4
    assert DistributedSampler(4, 0).smallest_share(99, 32) == 0   # last batch: 3 over 4
    assert DistributedSampler(4, 0).smallest_share(99, 32, drop_last=True) == 8
    assert DistributedSampler(1, 0).split(np.arange(5)).tolist() == list(range(5))
    with pytest.raises(ValueError, match="rank 2 outside"):
        DistributedSampler(2, 2)


def test_importing_striate_and_its_distributed_package_leaves_mpi_alone():
    """mpi4py initialises MPI when imported: only init_process_group may import it."""
    import subprocess
    import sys

    code = ("import sys, striate, striate.distributed, striate.distributed.trainer, "
            "striate.train.experiment, striate.cli; print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
