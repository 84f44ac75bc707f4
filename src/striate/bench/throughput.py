"""Throughput of one model's training step (forward, loss, backward, SGD step) and inference,
in striate or in PyTorch, as medians over repetitions after a warm-up."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Throughput:
    library: str
    model: str
    batch: int
    train_ips: float        # images per second, median over repetitions
    infer_ips: float
    peak_rss_mb: float      # peak resident memory of this process so far


def peak_rss_mb() -> float:
    """Peak resident memory of this process's own address space, in MiB.

    Linux's ``VmHWM``, not ``ru_maxrss``: a process started by ``subprocess`` inherits in
    ``ru_maxrss`` the peak of the parent it was forked from (the kernel records the old address
    space's peak at ``exec``), so a small child of a large test worker would read as large.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux and BSD: KiB


def median_rate(step: Callable[[], None], batch: int, seconds: float, repeats: int) -> float:
    """Images per second of ``step``: the median over ``repeats`` runs of about ``seconds`` each."""
    step()  # warm-up: first-touch page faults, caches, lazy initialisation
    start = time.perf_counter()
    step()
    per_step = max(time.perf_counter() - start, 1e-6)
    n = max(1, int(seconds / per_step))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            step()
        rates.append(n * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def _inputs(shape: tuple[int, ...], classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.integers(0, classes, shape[0]).astype(np.int64))


def striate_throughput(name: str, batch: int, input_shape: tuple[int, int, int],
                       seconds: float = 2.0, repeats: int = 5, **model_args) -> Throughput:
    import striate as st
    import striate.nn.functional as F
    from striate.models import get_model
    from striate.nn.utils import fuse
    from striate.optim import SGD

    st.manual_seed(0)
    model = fuse(get_model(name, **model_args))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _inputs((batch, *input_shape), model_args.get("num_classes", 10))
    x, y = st.tensor(x), st.tensor(y)

    def train_step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer_step():
        with st.no_grad():
            model(x)

    model.train()
    train = median_rate(train_step, batch, seconds, repeats)
    model.eval()
    infer = median_rate(infer_step, batch, seconds, repeats)
    return Throughput("striate", name, batch, train, infer, peak_rss_mb())


def torch_throughput(name: str, batch: int, input_shape: tuple[int, int, int],
                     seconds: float = 2.0, repeats: int = 5, **model_args) -> Throughput:
    """The same model, with the same initial weights, in PyTorch."""
    import torch

    import striate as st
    from striate.bench.torch_twins import twin
    from striate.models import get_model

    st.manual_seed(0)
    model = twin(name, get_model(name, **model_args), **model_args)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in _inputs((batch, *input_shape),
                                                  model_args.get("num_classes", 10)))

    def train_step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    model.train()
    train = median_rate(train_step, batch, seconds, repeats)
    model.eval()
    infer = median_rate(infer_step, batch, seconds, repeats)
    return Throughput("torch", name, batch, train, infer, peak_rss_mb())
