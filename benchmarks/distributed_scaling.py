"""Data-parallel scaling on this machine, and a model of it on a cluster (docs/distributed.md).

Measures, each as its own MPI job started with the ``mpiexec`` of the mpich wheel:

* training throughput of ``--model`` (ResNet-20 by default, on random images of Fashion-MNIST's
  shape 1×28×28) with 1 and 2 ranks, one kernel thread each, ``--per-rank`` images per rank per
  step (forward, cross-entropy, backward, gradient all-reduce, SGD step);
* the time of the gradient all-reduce (float32, in the 25 MiB buckets training uses) of every
  zoo model's parameter count, between 2 ranks over loopback (shared memory).

Then projects the efficiency at 4–64 ranks for a network of ``--gbits`` Gbit/s and ``--latency``
µs: a ring all-reduce moves 2(W−1)/W of the gradient per rank in 2(W−1) messages, and without
overlap a step takes compute + all-reduce.  Everything measured is printed as such; the
projection is marked projected.  This machine is shared: repeat a run to see the noise.

    python benchmarks/distributed_scaling.py                  # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUCKET = 25 * 2**20


def throughput_job(model_name: str, per_rank: int, steps: int) -> dict:
    """One rank's part of the throughput job; rank 0 returns the figures."""
    import striate as st
    from striate import distributed as dist
    from striate.models import get_model
    from striate.nn import functional as F
    from striate.nn.utils import fuse
    from striate.optim import SGD

    st.backends.tune_process()
    st.manual_seed(0)
    model = fuse(get_model(model_name, num_classes=10, in_channels=1, input_size=28))
    ddp = dist.DistributedDataParallel(model)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.get_rank())
    x = st.tensor(rng.standard_normal((per_rank, 1, 28, 28)).astype(np.float32))
    y = st.tensor(rng.integers(0, 10, per_rank))
    reduce_seconds = 0.0

    def step() -> float:
        optimizer.zero_grad()
        ddp.backward(F.cross_entropy(model(x), y), per_rank)
        started = time.perf_counter()
        ddp.reduce_gradients()
        optimizer.step()
        return time.perf_counter() - started

    for _ in range(2):
        step()
    dist.barrier()
    started = time.perf_counter()
    for _ in range(steps):
        reduce_seconds += step()
    dist.barrier()
    seconds = time.perf_counter() - started
    world = dist.get_world_size()
    return {"ranks": world, "images_per_s": world * per_rank * steps / seconds,
            "step_s": seconds / steps, "reduce_and_update_s": reduce_seconds / steps}


def allreduce_job(sizes: dict[str, int]) -> dict:
    """Median all-reduce time of each gradient size (float32, in buckets), between the ranks."""
    from striate import distributed as dist

    backend = dist.get_backend()
    out = {}
    for name, count in sizes.items():
        buffers = [np.ones(min(BUCKET // 4, count - start), np.float32)
                   for start in range(0, count, BUCKET // 4)]
        times = []
        deadline = time.perf_counter() + 1.0
        for i in range(30):
            backend.barrier()
            started = time.perf_counter()
            for buffer in buffers:
                backend.all_reduce(buffer)
            times.append(time.perf_counter() - started)
            flag = np.array([time.perf_counter() > deadline and i >= 3], np.float64)
            backend.all_reduce(flag, "max")
            if flag[0]:
                break
        out[name] = {"parameters": count, "seconds": float(np.median(times))}
        del buffers
    return out


def zoo_sizes() -> dict[str, int]:
    """Each zoo model's parameter count at its designed input size and classes."""
    from striate.models import get_model, list_models

    sizes = {}
    for name in list_models():
        model = get_model(name)
        sizes[name] = int(sum(p.numel() for p in model.parameters()))
        del model
    return sizes


def run_job(ranks: int, job: str, payload: dict) -> dict:
    from striate.distributed.launch import find_mpiexec

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        args = [find_mpiexec(), "-n", str(ranks), sys.executable, __file__, "--job", job,
                "--payload", json.dumps(payload), "--result", str(out)]
        subprocess.run(args, check=True, env={**os.environ, "STRIATE_NUM_THREADS": "1"})
        return json.loads(out.read_text())


def project(step_s: float, parameters: int, gbits: float, latency_us: float,
            ranks: int) -> float:
    """Projected efficiency (time of one rank's compute / time of a step) at ``ranks`` ranks,
    ring all-reduce of float32 gradients, no overlap."""
    size = 4 * parameters
    comm = (2 * (ranks - 1) / ranks * size / (gbits * 1e9 / 8)
            + 2 * (ranks - 1) * latency_us * 1e-6)
    return step_s / (step_s + comm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet20", help="model (default: resnet20)")
    parser.add_argument("--per-rank", type=int, default=64,
                        help="images per rank per step (default: 64)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default: 10)")
    parser.add_argument("--gbits", type=float, nargs="+", default=[10.0, 100.0],
                        help="network bandwidths to project for, Gbit/s (default: 10 100)")
    parser.add_argument("--latency", type=float, default=20.0,
                        help="network latency per message, µs (default: 20)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:  # a rank of one of the jobs below
        from striate import distributed as dist

        dist.init_process_group("mpi")
        payload = json.loads(args.payload)
        result = (throughput_job(**payload) if args.job == "throughput"
                  else allreduce_job(payload))
        if dist.get_rank() == 0:
            Path(args.result).write_text(json.dumps(result))
        return

    from striate.bench.machine import cpu_description

    print(f"measured on {cpu_description()}, {time.strftime('%Y-%m-%d')}")
    rows = [run_job(n, "throughput", {"model_name": args.model, "per_rank": args.per_rank,
                                      "steps": args.steps}) for n in (1, 2)]
    print(f"\nmeasured: {args.model} training, {args.per_rank} images per rank per step, "
          "one thread per rank")
    for row in rows:
        print(f"  {row['ranks']} rank(s): {row['images_per_s']:7.1f} images/s, step "
              f"{row['step_s'] * 1e3:6.1f} ms (all-reduce + SGD step "
              f"{row['reduce_and_update_s'] * 1e3:.2f} ms)")
    print(f"  speed-up {rows[1]['images_per_s'] / rows[0]['images_per_s']:.2f} with 2 ranks")
    sizes = zoo_sizes()
    reduce = run_job(2, "allreduce", sizes)
    print("\nmeasured: all-reduce of each zoo model's float32 gradients, 2 ranks, loopback")
    for name, row in sorted(reduce.items(), key=lambda kv: kv[1]["parameters"]):
        mb = 4 * row["parameters"] / 2**20
        print(f"  {name:20s} {row['parameters']:>12,d} params {mb:8.1f} MiB "
              f"{row['seconds'] * 1e3:9.2f} ms  {mb / 1024 / row['seconds']:6.2f} GiB/s")
    step_s, parameters = rows[0]["step_s"], sizes[args.model]
    print(f"\nprojected: efficiency of {args.model} (compute {step_s * 1e3:.0f} ms a step, "
          f"measured above; {parameters:,d} parameters), ring all-reduce, "
          f"{args.latency:g} µs latency, no overlap")
    for gbits in args.gbits:
        cells = " ".join(f"{w:>3d}: {project(step_s, parameters, gbits, args.latency, w):.3f}"
                         for w in (4, 8, 16, 32, 64))
        print(f"  {gbits:6g} Gbit/s  {cells}")


if __name__ == "__main__":
    main()
