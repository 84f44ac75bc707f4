"""What choosing convolution algorithms by measurement buys and costs, model by model, in one
process: the rules of ``conv_plan.py`` against ``st.backends.conv.benchmark = True``.

    python benchmarks/measured_plan.py                         # every zoo model, quick sizes
    python benchmarks/measured_plan.py --models allconv vgg11_bn --batch-size 64

For each model: the measuring's cost (the seconds spent timing candidates, all on the first
training step and inference batch), then rounds alternating between the two settings (the
machine's load falls on both alike; plans of both stay cached), and the median training step
and inference batch of each, with the ratio rules / measured (above 1: measuring is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

from steps import step_functions
from vs_torch import quick

import striate as st
from striate.kernels import conv_tuning


def compare(model: str, batch: int, size: int, rounds: int, steps: int) -> dict:
    train, infer = step_functions("striate", model, batch, size)
    st.backends.conv.benchmark = False
    train(), infer()  # rules: compile and cache
    spent = conv_tuning.seconds_spent()
    st.backends.conv.benchmark = True
    start = time.perf_counter()
    train(), infer()  # the first step with measuring: every new geometry is timed
    first = time.perf_counter() - start
    cost = conv_tuning.seconds_spent() - spent
    times: dict = {(mode, what): [] for mode in ("rules", "measured")
                   for what in ("train", "infer")}
    for _ in range(rounds):
        for mode in ("rules", "measured"):
            st.backends.conv.benchmark = mode == "measured"
            for what, fn in (("train", train), ("infer", infer)):
                fn()
                start = time.perf_counter()
                for _ in range(steps):
                    fn()
                times[mode, what].append((time.perf_counter() - start) / steps)
    median = {key: statistics.median(values) for key, values in times.items()}
    return {"cost": cost, "first": first, **{f"{m} {w}": v for (m, w), v in median.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["all"], help="zoo models, or 'all'")
    p.add_argument("--batch-size", type=int, default=None, help="default: each model's quick")
    p.add_argument("--input-size", type=int, default=None, help="default: each model's quick")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="timed calls per setting and round")
    args = p.parse_args()
    from striate.bench.machine import blas_description, cpu_description
    from striate.models import list_models

    st.backends.tune_process()
    models = list_models() if args.models == ["all"] else args.models
    print(f"{cpu_description()}; {blas_description()}")
    print(f"{'model':<18} {'input':>5} {'batch':>5} | {'measuring s':>11} | "
          f"{'train ms rules':>14} {'measured':>9} {'ratio':>6} | "
          f"{'infer ms rules':>14} {'measured':>9} {'ratio':>6}")
    for model in models:
        size, batch = quick(model)
        size, batch = args.input_size or size, args.batch_size or batch
        r = compare(model, batch, size, args.rounds, args.steps)
        print(f"{model:<18} {size:>5} {batch:>5} | {r['cost']:>11.1f} | "
              f"{r['rules train'] * 1e3:>14.1f} {r['measured train'] * 1e3:>9.1f} "
              f"{r['rules train'] / r['measured train']:>6.2f} | "
              f"{r['rules infer'] * 1e3:>14.1f} {r['measured infer'] * 1e3:>9.1f} "
              f"{r['rules infer'] / r['measured infer']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
