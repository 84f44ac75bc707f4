"""striate against PyTorch on this machine, in one run: training and inference throughput of the
same model with the same weights, the ratio, and each library's peak memory.

    python benchmarks/vs_torch.py                       # lenet5 and resnet20, batch 1, 128, 512
    python benchmarks/vs_torch.py --models lenet5 --batches 128 --seconds 1
    python benchmarks/vs_torch.py --models resnet20 --batches 16 --input-sizes 28 56 112 224
    python benchmarks/vs_torch.py --models all          # every zoo model at its quick size
    python benchmarks/vs_torch.py --models vgg11_bn mobilenet_v1 --batches 8 128 --input-sizes 64

With ``--models all`` (or any model beyond lenet5 and resnet20) and no ``--batches`` or
``--input-sizes``, each model runs at its quick configuration (:data:`QUICK`): the native input of
the 28–32 px models at batch 32, the ImageNet models at 64 px (96 for AlexNet's 227 px form) at
batch 16, so the whole zoo fits in about half an hour on two cores.

Each (library, model, batch) runs in its own process, so thread pools do not compete and the
peak resident memory is that library's alone.  The two libraries run in rounds (striate then
PyTorch, the order swapped each round), each figure is the median over the rounds of each run's
median over repetitions, and a ratio, striate's throughput divided by PyTorch's (above 1: striate
is faster), is the median of the rounds' own ratios: on these shared machines the load changes
from one minute to the next (PyTorch's ResNet-20 at batch 1 read 55 and 113 images/s in two
runs the same hour), and a ratio taken within a round cancels most of that.

The goals printed last are the performance issues': each zoo model at least PyTorch's throughput
at batches 8 to 128 (LeNet-5's and ResNet-20's own goals at batches 1 and 512), ResNet-20's peak
at batch 128 at most 1.5× PyTorch's, and every model's peak at 224 px at most PyTorch's
(``--input-sizes 224``).

GFLOP/s is what each achieved in training (a training step costs about three forward passes), to
compare with the machine's sgemm peak printed first: near it, a library is BLAS-bound; far below
it at large batches, memory-bound; far below it only at small batches, bound by per-op Python or
dispatch overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np

DEFAULT_MODELS = ["lenet5", "resnet20"]
DEFAULT_BATCHES = [1, 128, 512]


def native_shape(model: str) -> tuple[int, int, int]:
    """The (C, H, W) input a zoo model is built for."""
    from striate.models import default_in_channels, default_input_size

    size = default_input_size(model)
    return (default_in_channels(model), size, size)


def quick(model: str) -> tuple[int, int]:
    """(input size, batch) of a model's quick run: small models at their own input and batch
    32; the 224 px ImageNet models at 64 px (AlexNet's original 227 px form needs 96) and batch
    16, the sizes at which users train them on small datasets."""
    size = native_shape(model)[1]
    if size <= 32:
        return size, 32
    return (96 if model == "alexnet_original" else 64), 16


GOALS = {128: 1.0, 1: 0.8, 512: 0.8}  # lenet5's and resnet20's goals per batch (speed issue)
ZOO_GOAL = (8, 128, 1.0)  # every zoo model, batches 8 to 128: at least PyTorch's speed (zoo issue)
MEMORY_GOAL = ("resnet20", 128, 1.5)  # training peak memory at most 1.5× PyTorch's
ZOO_MEMORY_GOAL = (224, 1.0)  # every zoo model at 224 px: at most PyTorch's peak (zoo issue)


def goal(model: str, shape: tuple[int, int, int], batch: int) -> float | None:
    """The throughput ratio the performance issues ask of this run, or None."""
    if model in DEFAULT_MODELS and shape == native_shape(model) and batch in GOALS:
        return GOALS[batch]
    low, high, ratio = ZOO_GOAL
    return ratio if low <= batch <= high else None


def memory_goal(model: str, shape: tuple[int, int, int], batch: int) -> float | None:
    """The bound on striate's peak memory / PyTorch's that the issues ask of this run, or None."""
    if (model, batch) == MEMORY_GOAL[:2] and shape == native_shape(model):
        return MEMORY_GOAL[2]
    size, ratio = ZOO_MEMORY_GOAL
    return ratio if shape[1] == size else None


def print_goals(rows: list[tuple[str, tuple, int, dict, dict, dict]]) -> None:
    """Which of the performance goals this run met, and how many."""
    lines = []
    met = total = memory_met = memory_total = 0
    for model, shape, batch, ours, theirs, ratios in rows:
        wanted = goal(model, shape, batch)
        for what in ("train", "infer") if wanted is not None else ():
            ratio = ratios[what]
            met += ratio >= wanted
            total += 1
            verdict = "met" if ratio >= wanted else "not met"
            lines.append(f"{model} {shape[1]}px batch {batch} {what}: {ratio:.3f} "
                         f"(goal >= {wanted}) {verdict}")
        bound = memory_goal(model, shape, batch)
        if bound is not None:
            ratio = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
            memory_met += ratio <= bound
            memory_total += 1
            verdict = "met" if ratio <= bound else "not met"
            lines.append(f"{model} {shape[1]}px batch {batch} peak memory: {ratio:.2f}x "
                         f"PyTorch's (goal <= {bound}) {verdict}")
    if lines:
        memory = f", {memory_met} of {memory_total} memory goals" if memory_total else ""
        print(f"\ngoals ({met} of {total} throughput goals met{memory}):\n  " + "\n  ".join(lines))


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """NumPy's float32 matrix product speed on square matrices, for context."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def _median_run(runs: list[dict]) -> dict:
    """Per figure, the median over the rounds' runs of one library."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]
            if isinstance(runs[0][key], (int, float))}


def model_input(model: str, size: int | None) -> tuple[tuple[int, int, int], dict]:
    shape = native_shape(model)
    if size is None or size == shape[1]:
        return shape, {}
    return (shape[0], size, size), {"input_size": size}


def forward_flops(model: str, size: int | None) -> int:
    from striate.models import get_model
    from striate.nn.summary import summarize

    shape, args = model_input(model, size)
    return sum(r.flops for r in summarize(get_model(model, **args), shape))


def worker(library: str, model: str, batch: int, size: int | None, seconds: float,
           repeats: int, conv_plan: str) -> None:
    from striate.backends import flags, tune_process
    from striate.bench.throughput import striate_throughput, torch_throughput
    from striate.data.locate import cache_root

    tune_process()  # as the command line does (both libraries' processes, as before)
    shape, args = model_input(model, size)
    measure = striate_throughput if library == "striate" else torch_throughput
    measured = conv_plan == "measured"  # as the command line does, with its cache of choices
    with flags(benchmark=measured,
               benchmark_cache=cache_root() / "conv-plans.json" if measured else None):
        print(json.dumps(asdict(measure(model, batch, shape, seconds, repeats, **args))))


def run_worker(library: str, model: str, batch: int, size: int | None, seconds: float,
               repeats: int, conv_plan: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", library, model, str(batch),
           "--seconds", str(seconds), "--repeats", str(repeats), "--conv-plan", conv_plan]
    if size is not None:
        cmd += ["--input-sizes", str(size)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if out.returncode:
        raise SystemExit(f"{library} {model} batch {batch} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                   help="zoo models, or 'all' (default: %(default)s)")
    p.add_argument("--batches", nargs="+", type=int, default=None,
                   help=f"batch sizes (default: {DEFAULT_BATCHES} for lenet5 and resnet20, "
                   "each other model's quick batch)")
    p.add_argument("--input-sizes", nargs="+", type=int, default=None,
                   help="input heights = widths to try (default: lenet5's and resnet20's own, "
                   "each other model's quick size)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of one repetition")
    p.add_argument("--repeats", type=int, default=3, help="repetitions in each run")
    p.add_argument("--rounds", type=int, default=3,
                   help="runs of each library, alternating (ratios: the median of the rounds')")
    p.add_argument("--conv-plan", choices=("measured", "rules"), default="measured",
                   help="striate's convolution algorithms: timed per shape (as `striate train` "
                   "does) or by the fixed rules")
    p.add_argument("--worker", nargs=3, metavar=("LIBRARY", "MODEL", "BATCH"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    from striate.models import list_models

    zoo = list_models()
    models = zoo if args.models == ["all"] else args.models
    unknown = [m for m in models if m not in zoo]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}; the zoo: {', '.join(zoo)}, or 'all'")
    if args.worker:
        library, model, batch = args.worker
        size = args.input_sizes[0] if args.input_sizes else None
        worker(library, model, int(batch), size, args.seconds, args.repeats, args.conv_plan)
        return

    import torch

    from striate.bench.machine import blas_description, cpu_description

    print(f"{cpu_description()}; numpy {np.__version__} with {blas_description()}, "
          f"torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); sgemm {sgemm_gflops():.0f} GFLOP/s "
          f"(2048², float32); striate's convolution plans: {args.conv_plan}")
    head = (f"{'model':<18} {'input':>5} {'batch':>5} | {'train img/s':>19} {'ratio':>6} | "
            f"{'train GFLOP/s':>13} | {'inference img/s':>19} {'ratio':>6} | {'peak MB':>13}")
    print(head)
    print(f"{'':<18} {'':>5} {'':>5} | {'striate':>9} {'torch':>9} {'':>6} | {'striate':>6} "
          f"{'torch':>6} | {'striate':>9} {'torch':>9} {'':>6} | {'striate':>6} {'torch':>6}")
    print("-" * len(head))
    native = []  # rows at each model's own input size, for the goals
    for model in models:
        own = model in DEFAULT_MODELS
        sizes = args.input_sizes or [None if own else quick(model)[0]]
        for size in sizes:
            flops = forward_flops(model, size)
            shape, _ = model_input(model, size)
            for batch in args.batches or (DEFAULT_BATCHES if own else [quick(model)[1]]):
                rounds = []
                for r in range(args.rounds):
                    order = ("striate", "torch")[::1 if r % 2 == 0 else -1]
                    runs = {lib: run_worker(lib, model, batch, size, args.seconds, args.repeats,
                                            args.conv_plan)
                            for lib in order}
                    rounds.append((runs["striate"], runs["torch"]))
                ours, theirs = (_median_run([rnd[i] for rnd in rounds]) for i in (0, 1))
                ratios = {what: statistics.median(o[f"{what}_ips"] / t[f"{what}_ips"]
                                                  for o, t in rounds)
                          for what in ("train", "infer")}
                gflops = [3 * flops * r["train_ips"] / 1e9 for r in (ours, theirs)]
                print(f"{model:<18} {shape[1]:>5} {batch:>5} | {ours['train_ips']:>9.0f} "
                      f"{theirs['train_ips']:>9.0f} {ratios['train']:>6.2f} | {gflops[0]:>6.1f} "
                      f"{gflops[1]:>6.1f} | {ours['infer_ips']:>9.0f} {theirs['infer_ips']:>9.0f} "
                      f"{ratios['infer']:>6.2f} | {ours['peak_rss_mb']:>6.0f} "
                      f"{theirs['peak_rss_mb']:>6.0f}", flush=True)
                native.append((model, shape, batch, ours, theirs, ratios))
    print_goals(native)


if __name__ == "__main__":
    main()
