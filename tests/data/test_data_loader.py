"""DataLoader: order, drop_last, seeded shuffling, exact resume, worker threads, worker errors,
early exit."""

import json
import threading
import time

import numpy as np
import pytest

from striate.data import ArrayDataset, Compose, DataLoader, RandomCrop, RandomHorizontalFlip


def _dataset(n=10):
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 1, 4, 4), np.uint8)
    return ArrayDataset(images, np.arange(n) % 3)


def _ids(batches):
    return [int(i) for images, _ in batches for i in images[:, 0, 0, 0]]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_order_len_drop_last(prefetch):
    ds = _dataset(10)
    loader = DataLoader(ds, batch_size=4, prefetch=prefetch)
    batches = list(loader)
    assert len(loader) == 3 and [len(x) for x, _ in batches] == [4, 4, 2]
    assert _ids(batches) == list(range(10))
    np.testing.assert_array_equal(batches[0][1], [0, 1, 2, 0])
    assert batches[0][1].dtype == np.int64
    dropped = DataLoader(ds, batch_size=4, drop_last=True, prefetch=prefetch)
    assert len(dropped) == 2 and [len(x) for x, _ in dropped] == [4, 4]
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2


@pytest.mark.parametrize("prefetch", [0, 3])
def test_shuffle_seeded_new_order_each_epoch(prefetch):
    ds = _dataset(50)
    a = DataLoader(ds, 8, shuffle=True, generator=np.random.default_rng(1), prefetch=prefetch)
    b = DataLoader(ds, 8, shuffle=True, generator=np.random.default_rng(1), prefetch=prefetch)
    e1, e2 = _ids(a), _ids(a)
    assert sorted(e1) == list(range(50)) and e1 != e2 and e1 != list(range(50))
    assert _ids(b) == e1 and _ids(b) == e2


def test_transform_receives_batch_and_seeded_rng():
    ds = _dataset(12)
    aug = Compose([RandomCrop(4, padding=1), RandomHorizontalFlip()])
    runs = [[x.copy() for x, _ in DataLoader(ds, 5, True, transform=aug,
                                             generator=np.random.default_rng(4))]
            for _ in range(2)]
    for x, y in zip(*runs, strict=True):
        np.testing.assert_array_equal(x, y)
    one_arg = DataLoader(ds, 5, transform=lambda x: x.astype(np.float32) / 2)
    first = next(iter(one_arg))[0]
    assert first.dtype == np.float32 and first[1, 0, 0, 0] == 0.5


@pytest.mark.parametrize("prefetch", [0, 2])
def test_resume_mid_epoch_and_between_epochs(prefetch):
    ds = _dataset(40)
    aug = RandomCrop(4, padding=2)

    def loader():
        return DataLoader(ds, 6, shuffle=True, transform=aug,
                          generator=np.random.default_rng(9), prefetch=prefetch)

    reference = loader()
    full = [[x.copy() for x, _ in reference] for _ in range(3)]

    run = loader()
    list(run)  # epoch 0
    it = iter(run)
    for _ in range(3):
        next(it)  # three batches of epoch 1 consumed
    saved = json.loads(json.dumps(run.state_dict()))
    assert saved["batches_done"] == 3
    del it

    resumed = loader()
    resumed.load_state_dict(saved)
    assert resumed.state_dict() == saved
    rest = [x for x, _ in resumed]
    assert len(rest) == len(full[1]) - 3
    for x, y in zip(rest, full[1][3:], strict=True):
        np.testing.assert_array_equal(x, y)
    between = resumed.state_dict()  # epoch finished: describes the start of epoch 2
    assert between["batches_done"] == 0
    again = loader()
    again.load_state_dict(between)
    for x, y in zip([x for x, _ in again], full[2], strict=True):
        np.testing.assert_array_equal(x, y)


def test_worker_exception_reraised():
    class Broken:
        def __len__(self):
            return 20

        def __getitem__(self, i):
            if i == 13:
                raise KeyError("image 13 is unreadable")
            return np.zeros((1, 2, 2), np.uint8), 0

    batches = []
    with pytest.raises(KeyError, match="image 13"):
        for x, _ in DataLoader(Broken(), 4, prefetch=2):
            batches.append(x)
    assert len(batches) == 3  # the batches before the failing one arrived
    time.sleep(0.1)
    assert not any(t.name == "striate-data-prefetch" for t in threading.enumerate())


def test_early_break_stops_the_worker():
    ds = _dataset(1000)
    before = threading.active_count()
    start = time.perf_counter()
    for _ in range(5):
        for i, _batch in enumerate(DataLoader(ds, 2, shuffle=True, prefetch=1)):
            if i == 3:
                break
    assert time.perf_counter() - start < 5
    time.sleep(0.1)
    assert threading.active_count() == before


def test_plain_sequence_dataset_and_errors():
    items = [(np.full((1, 2, 2), i, np.uint8), i % 2) for i in range(5)]
    (x, y), = list(DataLoader(items, 8))
    assert x.shape == (5, 1, 2, 2) and y.tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(items, 0)
    with pytest.raises(ValueError, match="prefetch must be"):
        DataLoader(items, prefetch=-1)
    loader = DataLoader(items, 2)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="batches_done 9 outside"):
        loader.load_state_dict({**state, "batches_done": 9})


@pytest.mark.parametrize("num_workers", [1, 3])
def test_workers_give_the_same_batches_in_order_and_resume_exactly(num_workers):
    ds = _dataset(45)
    aug = Compose([RandomCrop(4, padding=2), RandomHorizontalFlip()])

    def loader(workers, prefetch=2):
        return DataLoader(ds, 4, shuffle=True, drop_last=True, transform=aug, prefetch=prefetch,
                          generator=np.random.default_rng(5), num_workers=workers)

    plain = loader(0)
    reference = [[(x.copy(), y.copy()) for x, y in plain] for _ in range(2)]
    pooled = loader(num_workers, prefetch=0)
    got = [[(x.copy(), y.copy()) for x, y in pooled] for _ in range(2)]
    assert len(got[0]) == 11  # drop_last: 45 // 4
    for a, b in zip(sum(reference, []), sum(got, []), strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    run = loader(num_workers)
    list(run)
    it = iter(run)
    for _ in range(4):
        next(it)
    saved = json.loads(json.dumps(run.state_dict()))
    del it
    resumed = loader(num_workers)
    resumed.load_state_dict(saved)
    for (x, _), (y, _) in zip(resumed, reference[1][4:], strict=True):
        np.testing.assert_array_equal(x, y)


def test_workers_reraise_errors_and_stop_when_left():
    class Broken:
        def __len__(self):
            return 40

        def __getitem__(self, i):
            if i == 21:
                raise KeyError("image 21 is unreadable")
            return np.zeros((1, 2, 2), np.uint8), 0

    batches = []
    with pytest.raises(KeyError, match="image 21"):
        for x, _ in DataLoader(Broken(), 4, num_workers=3):
            batches.append(x)
    assert len(batches) == 5
    for i, _batch in enumerate(DataLoader(_dataset(1000), 2, num_workers=2)):
        if i == 3:
            break
    time.sleep(0.1)
    assert not any(t.name.startswith("striate-data-worker") for t in threading.enumerate())
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        DataLoader(_dataset(), num_workers=-1)
    assert "num_workers=2" in repr(DataLoader(_dataset(), num_workers=2))
