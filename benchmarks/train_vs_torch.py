"""Train LeNet-5 on Fashion-MNIST with one recipe in striate and in PyTorch, and compare.

    python benchmarks/train_vs_torch.py                 # 10 epochs, as `striate train`
    python benchmarks/train_vs_torch.py --epochs 2 --limit 10000

Same recipe on both sides: the same batches in the same order (one seeded striate DataLoader,
replayed), the same initial weights (copied across), SGD with Nesterov momentum and weight decay,
the same one-cycle schedule stepped every batch, the same number of epochs.  Prints both test
accuracies and both wall times; the accuracies should agree within half a percentage point
(float32 rounding makes the two trajectories drift apart slowly, not the maths).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def batches(train, normalizer, batch_size: int, epochs: int, seed: int):
    """Every epoch's batches, identical for both libraries."""
    from striate.data import DataLoader

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, transform=normalizer,
                        generator=np.random.default_rng(seed), prefetch=0)
    for _ in range(epochs):
        yield from loader


def train_striate(model, data, test_x, test_y, args, steps):
    import striate as st
    import striate.nn.functional as F
    from striate.optim import SGD
    from striate.optim.lr_scheduler import OneCycleLR

    opt = SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    start = time.perf_counter()
    for x, y in data:
        loss = F.cross_entropy(model(st.tensor(x)), st.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    with st.no_grad():
        pred = np.concatenate([model(st.tensor(test_x[i:i + 1000])).numpy().argmax(1)
                               for i in range(0, len(test_x), 1000)])
    return float((pred == test_y).mean()), seconds


def train_torch(model, data, test_x, test_y, args, steps):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    start = time.perf_counter()
    for x, y in data:
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)),
                                                 torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(test_x)).argmax(1).numpy()
    return float((pred == test_y).mean()), seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--limit", type=int, default=None, help="use only N training images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import striate as st
    from striate.bench.torch_twins import twin
    from striate.data import Normalizer, fashion_mnist
    from striate.models import lenet5
    from striate.nn.utils import fuse

    st.backends.tune_process()  # as `striate train` does (it tunes the process for both)
    train, test = fashion_mnist("train"), fashion_mnist("test")
    if args.limit:
        from striate.data import ArrayDataset

        train = ArrayDataset(train.images[:args.limit], train.labels[:args.limit], train.classes)
    normalizer = Normalizer("channel").fit(train)
    test_x, test_y = normalizer(test.images), test.labels
    steps = args.epochs * -(-len(train) // args.batch_size)
    st.manual_seed(args.seed)
    ours = lenet5()
    theirs = twin("lenet5", ours)  # a copy of the same initial weights
    fuse(ours)  # conv → ReLU as one op, as the trainer runs it
    results = {}
    for name, model, fit in (("striate", ours, train_striate), ("torch", theirs, train_torch)):
        data = batches(train, normalizer, args.batch_size, args.epochs, args.seed)
        results[name] = fit(model, data, test_x, test_y, args, steps)
        print(f"{name:<8} test accuracy {results[name][0]:.4f}   training {results[name][1]:.1f} s",
              flush=True)
    gap = 100 * abs(results["striate"][0] - results["torch"][0])
    print(f"accuracy gap {gap:.2f} percentage points; time ratio striate/torch "
          f"{results['striate'][1] / results['torch'][1]:.2f}")


if __name__ == "__main__":
    main()
