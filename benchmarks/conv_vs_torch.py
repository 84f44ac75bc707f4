"""One convolution layer at a time, striate against PyTorch in one process: forward, and forward
plus backward (both gradients).

    python benchmarks/conv_vs_torch.py                       # ResNet-20's layers, batch 128, 28 px
    python benchmarks/conv_vs_torch.py --layer 16,192,12,64,1,1,0 --layer 16,512,4,512,1,1,0

A layer is N,C,H,O,K,S,P[,G]: batch, input channels, input size (square), output channels, kernel
size, stride, padding, and optionally groups (C for a depthwise layer: ``16,512,4,512,3,1,1,512``).
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", action="append", metavar="N,C,H,O,K,S,P[,G]",
                   help="a layer to time (repeatable; default: ResNet-20's at batch 128, 28 px)")
    args = p.parse_args()
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
    for spec in args.layer or RESNET20_28PX:
        n, c, h, o, k, s, pad, *groups = (int(v) for v in spec.split(","))
        g = groups[0] if groups else 1
        fwd_ours, fb_ours, fwd_theirs, fb_theirs = time_layer(torch, n, c, h, o, k, s, pad, rng,
                                                              g)
        name = f"{n}x{c}x{h}x{h} -> {o}, {k}x{k}/{s}" + (f" g{g}" if g > 1 else "")
        print(f"{name:<32} {fwd_ours:>8.2f} ms {fb_ours:>5.2f} ms | {fwd_theirs:>6.2f} ms "
              f"{fb_theirs:>5.2f} ms | {fwd_theirs / fwd_ours:>9.2f} {fb_theirs / fb_ours:>5.2f}",
              flush=True)


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
