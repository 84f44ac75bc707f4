"""A/B in one process: striate's training step and inference, alternating between variants
each round, so that the machine's changing load falls on every variant alike.

    python benchmarks/ab.py resnet20 --batch-size 1 --variants my_variants.py
    python benchmarks/ab.py lenet5 --batch-size 128 --steps 30 --rounds 11 --variants v.py

The variants file is Python that defines ``VARIANTS``, a dict from a name to a function of no
arguments that puts that variant in place (swapping a module's function or constant), e.g.::

    from striate.kernels import conv
    def small(): conv.PARALLEL_MIN_BYTES = 1 << 17
    def large(): conv.PARALLEL_MIN_BYTES = 1 << 19
    VARIANTS = {"128K": small, "512K": large}

Prints, per variant, the median ms per training step and per inference batch over the rounds,
and each round's figure.  (The before/after rows of docs/performance.md were measured this way,
each with a variants file that put the parent commit's function back.)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import striate as st
import striate.nn.functional as F
from striate.models import get_model
from striate.optim import SGD

INPUTS = {"lenet5": (1, 28, 28), "resnet20": (3, 32, 32)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=list(INPUTS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--variants", required=True, help="Python file defining VARIANTS")
    p.add_argument("--steps", type=int, default=10, help="timed calls per variant and round")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()

    namespace: dict = {}
    with open(args.variants) as f:
        exec(compile(f.read(), args.variants, "exec"), namespace)  # the user's own file
    variants = namespace["VARIANTS"]

    model = get_model(args.model)
    optimiser = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = st.tensor(rng.standard_normal((args.batch_size, *INPUTS[args.model])).astype(np.float32))
    y = st.tensor(rng.integers(0, 10, args.batch_size))

    def train() -> None:
        loss = F.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def infer() -> None:
        model.eval()
        with st.no_grad():
            model(x)
        model.train()

    times: dict = {(name, what): [] for name in variants for what in ("train", "infer")}
    for _ in range(args.rounds):
        for name, setup in variants.items():
            setup()
            for what, fn in (("train", train), ("infer", infer)):
                fn()
                fn()  # warm-up: compiles, caches
                start = time.perf_counter()
                for _ in range(args.steps):
                    fn()
                times[name, what].append((time.perf_counter() - start) / args.steps * 1e3)
    for (name, what), ms in times.items():
        print(f"{name:>12} {what:>5}: median {statistics.median(ms):8.3f} ms  "
              f"[{', '.join(f'{t:.2f}' for t in ms)}]")


if __name__ == "__main__":
    main()
