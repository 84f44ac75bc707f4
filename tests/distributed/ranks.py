"""What the tests run as ranks under mpiexec: ``python ranks.py MODE ARGS...``.

* ``equivalence OUT B SYNC``: 10 steps of ResNet-20 (float64, fused, batch norm synchronised
  when SYNC is 1) with per-rank batch B; rank 0 then runs the same 10 steps alone with batch
  W·B and writes to OUT the largest differences, and what each rank wrote under OUT/rankR.
* ``fail kill|raise|hang``: rank 1 dies by SIGKILL, raises, or hangs after two steps while the
  others train on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import striate as st
from striate import distributed as dist
from striate.data import ArrayDataset, DataLoader
from striate.distributed.launch import abort_on_error
from striate.distributed.trainer import DistributedTrainer
from striate.models import get_model
from striate.nn.utils import fuse
from striate.optim import SGD
from striate.train.trainer import Trainer

STEPS = 10


def data(n: int) -> ArrayDataset:
    rng = np.random.default_rng(1)
    return ArrayDataset(rng.standard_normal((n, 3, 8, 8)), rng.integers(0, 5, n))


def model() -> st.nn.Module:
    st.manual_seed(3)
    return fuse(get_model("resnet20", num_classes=5, in_channels=3, input_size=8).double())


def trainer(cls, net, batch_size: int, run_dir: Path, sampler=None) -> Trainer:
    loader = DataLoader(data(STEPS * batch_size * (1 if sampler is None else
                                                   sampler.num_replicas)),
                        batch_size=batch_size * (1 if sampler is None else sampler.num_replicas),
                        shuffle=True, generator=np.random.default_rng(5), sampler=sampler)
    optimizer = SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    return cls(net, optimizer, loader, run_dir, {}, progress=False)


def state(net) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=np.float64) for k, v in net.state_dict().items()}


def equivalence(out: Path, per_rank: int, sync: bool) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    net = model()
    if sync:
        dist.SyncBatchNorm.convert_sync_batchnorm(net)
    ours = trainer(DistributedTrainer, net, per_rank, out / f"rank{rank}",
                   dist.DistributedSampler())
    metrics = ours.train_epoch()
    ours.save("last")  # rank 0 alone writes
    ours.log.append({"epoch": 1, "train_loss": metrics.loss})
    mine = state(net)
    spread = {}
    for name, value in mine.items():  # the largest difference between ranks
        low, high = value.copy(), value.copy()
        dist.all_reduce(low, "min")
        dist.all_reduce(high, "max")
        spread[name] = float(np.abs(high - low).max(initial=0))
    if rank != 0:
        return
    reference_net = model()
    reference = trainer(Trainer, reference_net, world * per_rank, out / "single")
    single = reference.train_epoch()
    theirs = state(reference_net)
    result = {
        "params": max(float(np.abs(mine[k] - theirs[k]).max()) for k, _ in
                      reference_net.named_parameters()),
        "buffers": max(float(np.abs(mine[k] - theirs[k]).max()) for k in theirs
                       if "running" in k),
        "between_ranks": max(spread.values()),
        "loss": abs(metrics.loss - single.loss), "count": metrics.count,
        "written": {d.name: sorted(p.name for p in d.iterdir())
                    for d in out.iterdir() if d.name.startswith("rank")},
    }
    (out / "result.json").write_text(json.dumps(result))


def fail(mode: str) -> None:
    rank = dist.get_rank()
    run = trainer(DistributedTrainer, model(), 4, Path(os.environ["RUN_DIR"]),
                  dist.DistributedSampler())
    run.train_loader.dataset = data(4000 * dist.get_world_size())
    for step, (images, labels) in enumerate(run.train_loader):
        if rank == 1 and step == 2:
            print(f"rank 1 {mode}", file=sys.stderr, flush=True)
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif mode == "raise":
                raise RuntimeError("rank 1 gives up")
            else:
                time.sleep(600)
        run.train_step(images, labels)


if __name__ == "__main__":
    dist.init_process_group("mpi")
    with abort_on_error("ranks.py"):
        if sys.argv[1] == "equivalence":
            equivalence(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
        else:
            fail(sys.argv[2])
