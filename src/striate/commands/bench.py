"""``striate bench``: training and inference throughput of a model, and PyTorch's beside it."""

from __future__ import annotations

import argparse
import importlib.util

from ..errors import UserError
from . import add_conv_plan_option


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="measure a model's training and inference throughput",
        description="Time training steps (forward, loss, backward, SGD step) and inference of a "
                    "model on random data after a warm-up, and print images/s as medians over "
                    "repetitions; with PyTorch installed, the same model with the same weights "
                    "in PyTorch too. For a careful comparison (separate processes, several batch "
                    "sizes, peak memory) use benchmarks/vs_torch.py.")
    p.add_argument("model", help="model name, e.g. lenet5, resnet20")
    p.add_argument("--batch-size", type=int, default=128, help="images per training step")
    p.add_argument("--input-size", type=int, default=None,
                   help="height = width of the input (default: the model's own)")
    p.add_argument("--in-channels", type=int, default=None,
                   help="channels of the input (default: the model's own)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of one repetition")
    p.add_argument("--repeats", type=int, default=5,
                   help="repetitions, of which the median is printed")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads inside each matrix product (default 1; striate splits "
                        "its work over st.backends.cpu.num_threads workers itself, "
                        "STRIATE_NUM_THREADS at start-up)")
    add_conv_plan_option(p)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--no-tune", action="store_true",
                   help="leave the process as it is (no st.backends.tune_process(): malloc's "
                        "defaults, BLAS's own thread count), to measure what the tuning buys")
    p.add_argument("--profile", action="store_true",
                   help="instead, show where a training step's time goes: each layer's forward "
                        "and backward time and GFLOP/s, and each convolution's plan (the "
                        "algorithm of its forward, input gradient and weight gradient)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import models
    from ..bench.machine import blas_description, cpu_description
    from ..bench.throughput import striate_throughput, torch_throughput
    from ..kernels.parallel import set_num_threads
    from ..train.model_args import check_model_args

    if args.model not in models.list_models():
        raise UserError(f"unknown model {args.model!r}; see 'striate summary --list'")
    if args.batch_size < 1 or args.repeats < 1 or not 0 < args.seconds < 3600:
        raise UserError("--batch-size and --repeats must be at least 1, --seconds positive "
                        "(below 3600)")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        set_num_threads(args.threads)
    size = models.default_input_size(args.model) if args.input_size is None else args.input_size
    channels = (models.default_in_channels(args.model) if args.in_channels is None
                else args.in_channels)
    kwargs = {"in_channels": channels}
    if size != models.default_input_size(args.model):
        kwargs["input_size"] = size
    check_model_args(args.model, kwargs, where="the options")
    try:
        models.get_model(args.model, **kwargs)  # a size the model cannot take fails here
    except (TypeError, ValueError) as e:
        raise UserError(f"cannot build {args.model}: {e}") from None
    shape = (channels, size, size)
    if args.profile:
        return _profile(args.model, args.batch_size, shape, kwargs)
    rows = [striate_throughput(args.model, args.batch_size, shape, args.seconds, args.repeats,
                               **kwargs)]
    if not args.no_torch and importlib.util.find_spec("torch") is not None:
        rows.append(torch_throughput(args.model, args.batch_size, shape, args.seconds,
                                     args.repeats, **kwargs))
    print(f"{args.model}, batch {args.batch_size}, input {list(shape)}, float32 "
          f"({cpu_description()}; {blas_description()})")
    print(f"{'library':<8} {'train img/s':>12} {'inference img/s':>16}")
    for r in rows:
        print(f"{r.library:<8} {r.train_ips:>12.0f} {r.infer_ips:>16.0f}")
    if len(rows) == 2:
        print(f"{'ratio':<8} {rows[0].train_ips / rows[1].train_ips:>12.2f} "
              f"{rows[0].infer_ips / rows[1].infer_ips:>16.2f}   (striate / torch)")
    return 0


def _profile(name: str, batch: int, shape: tuple[int, int, int], kwargs: dict) -> int:
    import numpy as np

    from .. import models
    from ..bench.profile import format_profile, profile_step

    model = models.get_model(name, **kwargs)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, *shape)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    rows, total, optim_s = profile_step(model, images, labels)
    print(format_profile(rows, total, optim_s,
                         f"{name}, batch {batch}, input {list(shape)}, float32: one training step"))
    return 0

