"""Train a zoo model on Fashion-MNIST with one recipe in striate and in PyTorch, and compare.

    python benchmarks/train_vs_torch.py                 # LeNet-5, 10 epochs, as `striate train`
    python benchmarks/train_vs_torch.py --epochs 2 --limit 10000
    python benchmarks/train_vs_torch.py --model resnet20 --epochs 20 --lr 0.1 --augment flip+crop \
        --label-smoothing 0.1 --curves resnet20.png

Same recipe on both sides: the same batches in the same order, augmented once (one seeded
striate DataLoader, replayed), the same initial weights (copied across), SGD with Nesterov
momentum and weight decay, the same one-cycle schedule stepped every batch, the same label
smoothing and number of epochs.  Prints both test accuracies and both wall times, and each
library's time to the lower of the two final accuracies (evaluated after every epoch, outside the
timed training); the accuracies should agree within half a percentage point (float32 rounding
makes the two trajectories drift apart slowly, not the maths).  striate chooses its convolution
algorithms by measurement, as `striate train` does (``--conv-plan rules`` for the thresholds).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def epochs_of_batches(train, transform, batch_size: int, epochs: int, seed: int) -> list:
    """Every epoch's batches, augmented once, identical for both libraries."""
    from striate.data import DataLoader

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, transform=transform,
                        generator=np.random.default_rng(seed), prefetch=0)
    return [list(loader) for _ in range(epochs)]


def fit(name, model, epochs, test_x, test_y, step, predict) -> tuple[list[float], list[float]]:
    """Train ``model`` (library ``name``) over ``epochs`` (lists of batches) with ``step(x, y)``;
    (the test accuracy after each epoch, by ``predict(images)`` outside the clock, the training
    seconds so far).
    Each epoch's figures are printed as it ends, so a long run shows its progress."""
    accuracies, times, seconds = [], [], 0.0
    for epoch, batches in enumerate(epochs, 1):
        model.train()
        start = time.perf_counter()
        for x, y in batches:
            step(x, y)
        seconds += time.perf_counter() - start
        model.eval()
        pred = np.concatenate([predict(test_x[i:i + 500]) for i in range(0, len(test_x), 500)])
        accuracies.append(float((pred == test_y).mean()))
        times.append(seconds)
        print(f"  {name:<8} epoch {epoch}/{len(epochs)}: test accuracy "
              f"{accuracies[-1]:.4f}, {seconds:.1f} s of training", flush=True)
    return accuracies, times


def train_striate(model, epochs, test_x, test_y, args, steps):
    import striate as st
    import striate.nn.functional as F
    from striate.optim import SGD
    from striate.optim.lr_scheduler import OneCycleLR

    opt = SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = OneCycleLR(opt, max_lr=args.lr, total_steps=steps)

    def step(x, y):
        loss = F.cross_entropy(model(st.tensor(x)), st.tensor(y),
                               label_smoothing=args.label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

    def predict(images):
        with st.no_grad():
            return model(st.tensor(images)).numpy().argmax(1)

    return fit("striate", model, epochs, test_x, test_y, step, predict)


def train_torch(model, epochs, test_x, test_y, args, steps):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)

    def step(x, y):
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y),
                                                 label_smoothing=args.label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

    def predict(images):
        with torch.no_grad():
            return model(torch.from_numpy(images)).argmax(1).numpy()

    return fit("torch", model, epochs, test_x, test_y, step, predict)


def time_to(accuracy: float, accuracies: list[float], times: list[float]) -> float:
    """The training seconds until the first epoch at or above ``accuracy``."""
    return next(t for a, t in zip(accuracies, times, strict=True) if a >= accuracy)


def plot_curves(results: dict[str, tuple[list[float], list[float]]], title: str,
                path: str) -> None:
    """Each library's test accuracy against its minutes of training, to a PNG at ``path``."""
    from striate.viz._figure import new_figure, save_png

    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    for name, (accuracies, times) in results.items():
        ax.plot(np.array(times) / 60, 100 * np.array(accuracies), marker="o", markersize=3,
                label=name)
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("test accuracy (%)")
    lowest = 100 * min(min(a) for a, _ in results.values())
    best = 100 * max(max(a) for a, _ in results.values())
    ax.set_ylim(bottom=max(lowest - 1, best - 10))  # the last ten points, where the curves meet
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_png(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lenet5", help="a zoo model (Fashion-MNIST's 1x28x28)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--limit", type=int, default=None, help="use only N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", default="none", help="as striate train's, e.g. flip+crop")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--conv-plan", choices=("measured", "rules"), default="measured")
    p.add_argument("--curves", metavar="PNG", help="save both accuracy curves against time")
    args = p.parse_args()
    if args.curves and not os.path.isdir(os.path.dirname(os.path.abspath(args.curves))):
        p.error(f"--curves: the folder of {args.curves!r} does not exist")  # not after the run

    import striate as st
    from striate.bench.torch_twins import twin
    from striate.data import Compose, Normalizer, fashion_mnist
    from striate.data.locate import cache_root
    from striate.models import get_model
    from striate.nn.utils import fuse
    from striate.train.experiment import TrainConfig, build_augmentation

    st.backends.tune_process()  # as `striate train` does (it tunes the process for both)
    if args.conv_plan == "measured":
        st.backends.conv.benchmark = True
        st.backends.conv.benchmark_cache = cache_root() / "conv-plans.json"
    train, test = fashion_mnist("train"), fashion_mnist("test")
    if args.limit:
        from striate.data import ArrayDataset

        train = ArrayDataset(train.images[:args.limit], train.labels[:args.limit], train.classes)
    normalizer = Normalizer("channel").fit(train)
    test_x, test_y = normalizer(test.images), test.labels
    steps = args.epochs * -(-len(train) // args.batch_size)
    st.manual_seed(args.seed)
    model_args = {"num_classes": 10, "in_channels": 1, "input_size": 28}
    ours = get_model(args.model, **model_args)
    theirs = twin(args.model, ours, **model_args)  # a copy of the same initial weights
    fuse(ours)  # as the trainer runs it
    augment, mix = build_augmentation(TrainConfig(augment=args.augment), train.image_shape)
    if mix is not None:
        p.error("--augment: mixup and cutmix need soft targets, which this comparison lacks")
    transform = Compose([*augment, normalizer])
    epochs = epochs_of_batches(train, transform, args.batch_size, args.epochs, args.seed)
    results = {}
    for name, model, fit in (("striate", ours, train_striate), ("torch", theirs, train_torch)):
        results[name] = fit(model, epochs, test_x, test_y, args, steps)
        accuracies, times = results[name]
        print(f"{name:<8} test accuracy {accuracies[-1]:.4f}   training {times[-1]:.1f} s   "
              f"per epoch: {', '.join(f'{a:.4f}' for a in accuracies)}", flush=True)
    (ours_acc, ours_t), (theirs_acc, theirs_t) = results["striate"], results["torch"]
    gap = 100 * abs(ours_acc[-1] - theirs_acc[-1])
    target = min(ours_acc[-1], theirs_acc[-1])
    to_ours, to_theirs = time_to(target, ours_acc, ours_t), time_to(target, theirs_acc, theirs_t)
    print(f"accuracy gap {gap:.2f} percentage points; time ratio striate/torch "
          f"{ours_t[-1] / theirs_t[-1]:.2f}; to {100 * target:.2f}%: striate {to_ours:.1f} s, "
          f"torch {to_theirs:.1f} s")
    if args.curves:
        plot_curves(results, f"{args.model} on Fashion-MNIST, {args.epochs} epochs", args.curves)


if __name__ == "__main__":
    main()
