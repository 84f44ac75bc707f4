"""striate against PyTorch on this machine, in one run: training and inference throughput of the
same model with the same weights, the ratio, and each library's peak memory.

    python benchmarks/vs_torch.py                       # lenet5 and resnet20, batch 1, 128, 512
    python benchmarks/vs_torch.py --models lenet5 --batches 128 --seconds 1

Each (library, model, batch) runs in its own process, so thread pools do not compete and the
peak resident memory is that library's alone; the two libraries alternate, and each figure is a
median over repetitions.  A ratio is striate's throughput divided by PyTorch's (above 1: striate
is faster).
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

MODELS = {  # name -> (input shape, model arguments)
    "lenet5": ((1, 28, 28), {}),
    "resnet20": ((3, 32, 32), {}),
}


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


def worker(library: str, model: str, batch: int, seconds: float, repeats: int) -> None:
    from striate.bench.throughput import striate_throughput, torch_throughput

    shape, args = MODELS[model]
    measure = striate_throughput if library == "striate" else torch_throughput
    print(json.dumps(asdict(measure(model, batch, shape, seconds, repeats, **args))))


def run_worker(library: str, model: str, batch: int, seconds: float, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", library, model, str(batch),
           "--seconds", str(seconds), "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if out.returncode:
        raise SystemExit(f"{library} {model} batch {batch} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 128, 512])
    p.add_argument("--seconds", type=float, default=2.0, help="length of one repetition")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--worker", nargs=3, metavar=("LIBRARY", "MODEL", "BATCH"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        library, model, batch = args.worker
        worker(library, model, int(batch), args.seconds, args.repeats)
        return

    import torch

    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} cores; sgemm {sgemm_gflops():.0f} GFLOP/s (2048², float32)")
    head = (f"{'model':<9} {'batch':>5} | {'train img/s':>23} {'ratio':>6} | "
            f"{'inference img/s':>23} {'ratio':>6} | {'peak MB':>15}")
    print(head)
    print(f"{'':<9} {'':>5} | {'striate':>11} {'torch':>11} {'':>6} | {'striate':>11} "
          f"{'torch':>11} {'':>6} | {'striate':>7} {'torch':>7}")
    print("-" * len(head))
    for model in args.models:
        for batch in args.batches:
            ours = run_worker("striate", model, batch, args.seconds, args.repeats)
            theirs = run_worker("torch", model, batch, args.seconds, args.repeats)
            train = ours["train_ips"] / theirs["train_ips"]
            infer = ours["infer_ips"] / theirs["infer_ips"]
            print(f"{model:<9} {batch:>5} | {ours['train_ips']:>11.0f} "
                  f"{theirs['train_ips']:>11.0f} {train:>6.2f} | {ours['infer_ips']:>11.0f} "
                  f"{theirs['infer_ips']:>11.0f} "
                  f"{infer:>6.2f} | {ours['peak_rss_mb']:>7.0f} {theirs['peak_rss_mb']:>7.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
