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

from steps import step_functions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a zoo model, e.g. resnet20, vgg11_bn")
    p.add_argument("--input-size", type=int, default=None,
                   help="input height = width (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--variants", required=True, help="Python file defining VARIANTS")
    p.add_argument("--steps", type=int, default=10, help="timed calls per variant and round")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()

    namespace: dict = {}
    with open(args.variants) as f:
        exec(compile(f.read(), args.variants, "exec"), namespace)  # the user's own file
    variants = namespace["VARIANTS"]

    train, infer = step_functions("striate", args.model, args.batch_size, args.input_size)

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
