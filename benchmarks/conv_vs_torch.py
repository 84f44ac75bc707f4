"""One convolution layer at a time, striate against PyTorch in one process: forward, and forward
plus backward (both gradients).

    python benchmarks/conv_vs_torch.py                       # ResNet-20's layers, batch 128, 28 px
    python benchmarks/conv_vs_torch.py --layer 16,192,12,64,1,1,0 --layer 16,512,4,512,1,1,0
    python benchmarks/conv_vs_torch.py --model googlenet --input-size 64 --batch-size 16

A layer is N,C,H,O,K,S,P[,G]: batch, input channels, input size (square), output channels, kernel
size, stride, padding, and optionally groups (C for a depthwise layer: ``16,512,4,512,3,1,1,512``).
``--model`` times every distinct layer of a zoo model (square kernels, strides and paddings), with
how often the model has it and the totals over all of them.
striate chooses its algorithms by measurement (``backends.conv.benchmark``, the plan cache on
disk), as ``striate train`` does.  In one process PyTorch's threads may still spin when striate
starts, so read ratios of whole models from ``vs_torch.py``; this script says which layers a
model's gap comes from.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

RESNET20_28PX = ["128,1,28,16,3,1,1", "128,16,28,16,3,1,1", "128,16,28,32,3,2,1",
                 "128,32,14,32,3,1,1", "128,32,14,64,3,2,1", "128,64,7,64,3,1,1"]


def median_ms(fn, repeats: int = 15) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def sizes(spec: str, counts: tuple[int, ...], padding_at: int) -> list[int] | None:
    """The comma-separated integers of ``spec`` when there are ``counts`` of them, all positive
    but the padding at ``padding_at`` (which may be 0); else None."""
    fields = spec.split(",")
    if len(fields) not in counts or not all(f.isdigit() for f in fields):
        return None
    values = [int(f) for f in fields]
    return values if all(v > 0 or i == padding_at for i, v in enumerate(values)) else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", action="append", metavar="N,C,H,O,K,S,P[,G]",
                   help="a layer to time (repeatable; default: ResNet-20's at batch 128, 28 px)")
    p.add_argument("--model", help="time each distinct convolution of this zoo model instead")
    p.add_argument("--input-size", type=int, help="with --model: the input's height = width "
                   "(default: the model's own)")
    p.add_argument("--batch-size", type=int, default=16, help="with --model (default: 16)")
    args = p.parse_args()
    from striate.models import list_models

    if args.model is not None and args.model not in list_models():
        p.error(f"unknown model {args.model!r}; one of: {', '.join(list_models())}")
    if args.batch_size < 1 or (args.input_size is not None and args.input_size < 1):
        p.error("--batch-size and --input-size must be at least 1")
    for spec in args.layer or []:
        if sizes(spec, (7, 8), padding_at=6) is None:
            p.error(f"--layer {spec!r}: expected N,C,H,O,K,S,P[,G], positive integers (P may be 0)")
    import torch

    import striate as st
    from striate.bench.machine import blas_description, cpu_description
    from striate.data.locate import cache_root

    st.backends.tune_process()
    torch.set_num_threads(st.backends.cpu.num_threads)
    st.backends.conv.benchmark = True
    st.backends.conv.benchmark_cache = cache_root() / "conv-plans.json"
    print(f"{cpu_description()}; {blas_description()}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print(f"{'layer':<32} {'striate fwd':>11} {'f+b':>8} | {'torch fwd':>9} {'f+b':>8} | "
          f"{'ratio fwd':>9} {'f+b':>5}  (torch time / striate time)")
    rng = np.random.default_rng(0)
    specs = (model_layers(args.model, args.batch_size, args.input_size) if args.model
             else {spec: 1 for spec in args.layer or RESNET20_28PX})
    totals = np.zeros(4)
    for spec, count in specs.items():
        n, c, h, o, k, s, pad, *groups = sizes(spec, (7, 8), padding_at=6)
        g = groups[0] if groups else 1
        try:
            times = time_layer(torch, n, c, h, o, k, s, pad, rng, g)
        except ValueError as error:  # a geometry the convolution rejects, in its own words
            p.error(str(error))
        totals += count * np.array(times)
        name = (f"{n}x{c}x{h}x{h} -> {o}, {k}x{k}/{s}" + (f" g{g}" if g > 1 else "")
                + (f" ×{count}" if count > 1 else ""))
        print(_row(name, *times), flush=True)
    if len(specs) > 1:
        print(_row("all, each × its count", *totals))


def _row(name: str, fwd_ours: float, fb_ours: float, fwd_theirs: float, fb_theirs: float) -> str:
    return (f"{name:<32} {fwd_ours:>8.2f} ms {fb_ours:>5.2f} ms | {fwd_theirs:>6.2f} ms "
            f"{fb_theirs:>5.2f} ms | {fwd_theirs / fwd_ours:>9.2f} {fb_theirs / fb_ours:>5.2f}")


def model_layers(name: str, batch: int, input_size: int | None) -> dict[str, int]:
    """Each distinct convolution of the zoo model ``name`` as N,C,H,O,K,S,P,G (its input seen by
    a forward hook on one batch), with how many times the model has it."""
    import striate as st
    from striate import nn
    from striate.models import default_in_channels, default_input_size, get_model

    size = input_size or default_input_size(name)
    model = get_model(name) if input_size is None else get_model(name, input_size=input_size)
    channels = default_in_channels(name)
    specs: dict[str, int] = {}

    def record(conv, inputs):
        x = inputs[0]
        square = (len(set(conv.kernel_size)) == 1 and len(set(conv.stride)) == 1
                  and x.shape[2] == x.shape[3] and conv.dilation in ((1, 1), 1))
        pads = conv.padding
        if not square or isinstance(pads, str) or len(set(pads)) != 1:
            print(f"skipped (not square, or padding {pads!r}): {conv}")
            return
        spec = ",".join(str(v) for v in (batch, x.shape[1], x.shape[2], conv.out_channels,
                                         conv.kernel_size[0], conv.stride[0], pads[0],
                                         conv.groups))
        specs[spec] = specs.get(spec, 0) + 1

    hooks = [m.register_forward_pre_hook(record) for m in model.modules()
             if isinstance(m, nn.Conv2d)]
    with st.no_grad():
        model.eval()(st.zeros((batch, channels, size, size)))
    for hook in hooks:
        hook.remove()
    return specs


def time_layer(torch, n: int, c: int, h: int, o: int, k: int, s: int, pad: int,
               rng: np.random.Generator, groups: int = 1) -> tuple[float, float, float, float]:
    """Milliseconds of (striate forward, striate forward + backward, the same for PyTorch)."""
    import striate as st
    import striate.nn as nn

    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    ours = nn.Conv2d(c, o, k, stride=s, padding=pad, groups=groups, bias=False)
    theirs = torch.nn.Conv2d(c, o, k, stride=s, padding=pad, groups=groups, bias=False)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
    xs, xt = st.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    g = rng.standard_normal(ours(xs).shape).astype(np.float32)
    gs, gt = st.tensor(g), torch.from_numpy(g)

    def both_ours():
        xs.grad = ours.weight.grad = None
        ours(xs).backward(gs)

    def both_theirs():
        xt.grad = theirs.weight.grad = None
        theirs(xt).backward(gt)

    with st.no_grad():
        fwd_ours = median_ms(lambda: ours(xs))
    with torch.no_grad():
        fwd_theirs = median_ms(lambda: theirs(xt))
    return fwd_ours, median_ms(both_ours), fwd_theirs, median_ms(both_theirs)

if __name__ == "__main__":
    main()
