"""The timed calls the A/B scripts share (``ab.py``, ``ab_commit.py``): a model's training step
(forward, cross-entropy, backward, SGD with momentum) and its inference batch, built from a seed
by a given copy of the package."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np


def step_functions(package: str, model_name: str, batch: int, input_size: int | None = None,
                   measured: bool = False) -> tuple[Callable[[], None], Callable[[], None]]:
    """(train step, inference batch) of ``model_name`` built by the package ``package`` (its
    import name: ``striate`` or an extracted copy), on random data of ``input_size`` (None: the
    model's own); inference runs a second copy of the model in evaluation mode.  ``measured``:
    the copy's convolutions choose their algorithms by timing them in this process
    (``backends.conv.benchmark``, no cache on disk), else by its rules."""
    st = importlib.import_module(package)
    F = importlib.import_module(f"{package}.nn.functional")
    models = importlib.import_module(f"{package}.models")
    # fusion and process tuning are explicit since the Design issue; older copies fuse inside
    # their models and tune the process at import
    fuse = getattr(importlib.import_module(f"{package}.nn.utils"), "fuse", lambda m: m)
    backends = getattr(st, "backends", None)
    if backends is not None:
        backends.tune_process()
        if measured:
            backends.conv.benchmark = True
            backends.conv.benchmark_cache = None
    st.manual_seed(0)
    size = input_size or models.default_input_size(model_name)
    args = {} if input_size is None else {"input_size": input_size}
    model = fuse(models.get_model(model_name, **args))
    optimiser = importlib.import_module(f"{package}.optim").SGD(model.parameters(), lr=0.01,
                                                                  momentum=0.9)
    rng = np.random.default_rng(0)
    shape = (batch, models.default_in_channels(model_name), size, size)
    x = st.tensor(rng.standard_normal(shape).astype(np.float32))
    y = st.tensor(rng.integers(0, 10, batch))
    evaluated = fuse(models.get_model(model_name, **args)).eval()

    def train() -> None:
        loss = F.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def infer() -> None:
        with st.no_grad():
            evaluated(x)

    return train, infer
