"""``DataLoader``: shuffled, transformed mini-batches with background prefetching.

Randomness and exact resume. At the start of every epoch the loader draws, from its own
generator, the permutation of the items (when ``shuffle``) and one epoch seed; batch ``b`` of the
epoch is transformed with a fresh generator seeded by ``(epoch seed, b)``. So the generator state
at the start of an epoch plus the number of batches already consumed determine everything that
follows, whatever the prefetch thread has computed ahead. That pair is :meth:`state_dict`;
:meth:`load_state_dict` makes the next iteration continue at the same batch with the same order
and the same augmentations.

Prefetching. With ``prefetch > 0`` a daemon thread assembles up to ``prefetch`` batches ahead
into a bounded queue (NumPy's gathers and casts overlap the consumer's work). An exception in the
thread is re-raised in the consumer at the batch where it happened; leaving the loop early (break,
an exception in the loop body, or dropping the iterator) stops the thread after at most the batch
it is building.

Workers. With ``num_workers > 0`` that many threads (not processes, as PyTorch's are) build the
batches at once, up to ``max(prefetch, num_workers)`` ahead, and the batches still come in order.
Every batch depends only on its number and the epoch's draws, so the result is the same with any
number of workers, and resumption stays exact.  Threads help where building a batch releases
the GIL (decoding image files, NumPy's copies of large batches); a ``transform`` is then called
from several threads at once, so it must not keep state between calls (the built-in ones don't).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..random import default_generator
from .arrays import fetch_batch

_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _takes_rng(transform: Callable | None) -> bool:
    """Whether ``transform`` can be called as ``transform(batch, rng)``."""
    if transform is None:
        return False
    try:
        inspect.signature(transform).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume the one-argument form
        return False
    return True


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(images, labels)`` NumPy arrays.

    Args:
        dataset: an :class:`ArrayDataset`, :class:`Subset`, :class:`ImageFolder`, or any sequence
            of ``(image, label)`` pairs.
        batch_size: items per batch (the last one may be smaller unless ``drop_last``).
        shuffle: a new random order every epoch (from ``generator``).
        drop_last: skip the final incomplete batch.
        transform: ``transform(images, rng)`` (or ``transform(images)``) applied to every image
            batch, e.g. ``Compose([RandomCrop(28, 2), normalizer])``; without one the images come
            as stored (``uint8`` for the built-in datasets).
        generator: the ``np.random.Generator`` behind shuffling and augmentation; by default a new
            one seeded from the global generator (so ``striate.manual_seed`` fixes it).
        prefetch: batches prepared ahead in a background thread; 0 disables the thread.
        num_workers: threads building batches at once (see the module docstring); 0 (the
            default) builds them in one background thread, or in the loop itself without
            ``prefetch``.
        mix: ``mix(images, labels, rng)`` applied to every batch after ``transform``, with the
            same generator, returning ``(images, labels)``: a batch mixer of
            :mod:`striate.data.mixing` (mixup, CutMix), whose labels are ``MixedLabels``.
        sampler: a :class:`striate.distributed.DistributedSampler`: every batch of
            ``batch_size`` items is then the global batch of all ranks, of which this rank
            gets its share (a batch whose share is empty is skipped); shuffling and resuming
            stay the loader's, so they do not depend on the number of ranks.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 128,
        shuffle: bool = False,
        drop_last: bool = False,
        transform: Callable | None = None,
        generator: np.random.Generator | None = None,
        prefetch: int = 2,
        num_workers: int = 0,
        sampler: Any = None,
        mix: Callable | None = None,
    ):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if int(prefetch) != prefetch or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an int >= 0, got {prefetch!r}")
        if isinstance(num_workers, bool) or int(num_workers) != num_workers or num_workers < 0:
            raise ValueError("DataLoader: num_workers must be an int >= 0, got "
                             f"{num_workers!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform)}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.prefetch = int(prefetch)
        self.num_workers = int(num_workers)
        self.sampler = sampler
        self.mix = mix
        if generator is None:
            generator = np.random.default_rng(int(default_generator().integers(2**63)))
        self.generator = generator
        self._transform_takes_rng = _takes_rng(transform)
        self._epoch_state: dict | None = None  # generator state before this epoch's draws
        self._batches_done = 0
        self._resume_at = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    # -- resume ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"generator": bit-generator state, "batches_done": int}`` (JSON-serialisable).

        During an epoch it describes that epoch's start and the batches consumed so far (counting
        the one just yielded); between epochs, the state the next epoch will start from.
        """
        if self._epoch_state is not None:
            return {"generator": copy.deepcopy(self._epoch_state),
                    "batches_done": self._batches_done}
        return {"generator": copy.deepcopy(self.generator.bit_generator.state),
                "batches_done": self._resume_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next iteration continue where the saved one stood."""
        gen_state, done = state["generator"], int(state["batches_done"])
        kind = type(self.generator.bit_generator).__name__
        if gen_state.get("bit_generator") != kind:
            raise ValueError(
                f"DataLoader.load_state_dict: state is for bit generator "
                f"{gen_state.get('bit_generator')!r}, this loader's generator uses {kind!r}"
            )
        if not 0 <= done <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: batches_done {done} outside [0, {len(self)}]"
            )
        self.generator.bit_generator.state = copy.deepcopy(gen_state)
        self._epoch_state = None
        self._resume_at = done

    # -- iteration ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # The epoch's draws happen here, eagerly, so state_dict() is right from iter() on.
        start_state = copy.deepcopy(self.generator.bit_generator.state)
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        epoch_seed = int(self.generator.integers(2**63))
        first, self._resume_at = self._resume_at, 0
        self._epoch_state, self._batches_done = start_state, first

        def make(b: int) -> tuple[np.ndarray, np.ndarray]:
            indices, seed = order[b * self.batch_size:(b + 1) * self.batch_size], [epoch_seed, b]
            if self.sampler is not None:
                indices, seed = self.sampler.split(indices), self.sampler.seed_key(epoch_seed, b)
                if len(indices) == 0:
                    return None
            images, labels = fetch_batch(self.dataset, indices)
            rng = np.random.default_rng(seed)
            if self.transform is not None:
                if self._transform_takes_rng:
                    images = self.transform(images, rng)
                else:
                    images = self.transform(images)
            if self.mix is not None:
                images, labels = self.mix(images, labels, rng)
            return images, labels

        batches = range(first, len(self))
        if self.num_workers:
            inner = self._pooled(make, batches)
        elif self.prefetch:
            inner = self._threaded(make, batches)
        else:
            inner = ((b, make(b)) for b in batches)
        return self._track(inner, start_state)

    def _track(self, inner: Iterator, start_state: dict) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        try:
            for b, batch in inner:
                self._batches_done = b + 1
                if batch is not None:  # None: this rank's share of the batch is empty
                    yield batch
            if self._epoch_state is start_state:  # a newer iteration may have replaced it
                self._epoch_state = None
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    def _threaded(self, make: Callable, batches: range) -> Iterator:
        """Run ``make`` over ``batches`` in a thread, ``prefetch`` results ahead."""
        results: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    results.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                for b in batches:
                    if stop.is_set() or not put((b, make(b))):
                        return
                put(_END)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                put(_Failure(exc))

        worker = threading.Thread(target=work, name="striate-data-prefetch", daemon=True)
        worker.start()
        try:
            while (item := results.get()) is not _END:
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            stop.set()
            worker.join()

    def _pooled(self, make: Callable, batches: range) -> Iterator:
        """Run ``make`` over ``batches`` on ``num_workers`` threads, in order, at most
        ``max(prefetch, num_workers)`` batches ahead; a worker's exception is re-raised at its
        batch, and leaving early cancels what has not started and waits for the rest."""
        ahead = max(self.prefetch, self.num_workers)
        pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="striate-data-worker")
        todo = iter(batches)
        pending: deque = deque((b, pool.submit(make, b)) for b in itertools.islice(todo, ahead))
        try:
            while pending:
                b, future = pending.popleft()
                batch = future.result()
                for following in itertools.islice(todo, 1):
                    pending.append((following, pool.submit(make, following)))
                yield b, batch
        finally:
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch}, "
            f"num_workers={self.num_workers})"
        )
