"""Max pooling, striate against PyTorch in one process: forward, and forward plus backward.

    python benchmarks/pool_vs_torch.py                          # GoogLeNet's pools, 64 px, batch 16
    python benchmarks/pool_vs_torch.py --pool 16,192,8,3,1,1 --pool 16,64,32,3,2,0,ceil

A pool is N,C,H,K,S,P[,ceil]: batch, channels, input size (square), window, stride, padding, and
``ceil`` for ceil mode.  Read ratios of whole models from ``vs_torch.py``; this script says what
one pooling layer costs.
"""

from __future__ import annotations

import argparse

import numpy as np
from conv_vs_torch import median_ms, sizes

GOOGLENET_64PX = ["16,64,32,3,2,0,ceil", "16,192,16,3,2,0,ceil", "16,192,8,3,1,1",
                  "16,256,8,3,1,1", "16,480,8,3,2,0,ceil", "16,480,4,3,1,1", "16,528,4,3,1,1",
                  "16,832,4,2,2,0,ceil", "16,832,2,3,1,1"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", action="append", metavar="N,C,H,K,S,P[,ceil]",
                   help="a pool to time (repeatable; default: GoogLeNet's at 64 px, batch 16)")
    args = p.parse_args()
    pools = []
    for spec in args.pool or GOOGLENET_64PX:
        ceil = spec.endswith(",ceil")
        values = sizes(spec.removesuffix(",ceil"), (6,), padding_at=5)
        if values is None:
            p.error(f"--pool {spec!r}: expected N,C,H,K,S,P[,ceil], positive integers (P may "
                    "be 0)")
        pools.append((*values, ceil))
    import torch

    import striate as st
    from striate.bench.machine import cpu_description

    st.backends.tune_process()
    torch.set_num_threads(st.backends.cpu.num_threads)
    print(f"{cpu_description()}; torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'pool':<30} {'striate fwd':>11} {'f+b':>8} | {'torch fwd':>9} {'f+b':>8} | "
          f"{'ratio fwd':>9} {'f+b':>5}  (torch time / striate time)")
    rng = np.random.default_rng(0)
    for n, c, h, k, s, pad, ceil in pools:
        try:
            fwd_ours, fb_ours, fwd_theirs, fb_theirs = time_pool(torch, (n, c, h, h), k, s, pad,
                                                                 ceil, rng)
        except ValueError as error:  # a geometry the pooling rejects, in its own words
            p.error(str(error))
        name = f"{n}x{c}x{h}x{h}, {k}x{k}/{s} pad {pad}" + (" ceil" if ceil else "")
        print(f"{name:<30} {fwd_ours:>8.2f} ms {fb_ours:>5.2f} ms | {fwd_theirs:>6.2f} ms "
              f"{fb_theirs:>5.2f} ms | {fwd_theirs / fwd_ours:>9.2f} {fb_theirs / fb_ours:>5.2f}",
              flush=True)


def time_pool(torch, shape: tuple, k: int, s: int, pad: int, ceil: bool,
              rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Milliseconds of (striate forward, striate forward + backward, the same for PyTorch)."""
    import torch.nn.functional as TF

    import striate as st
    import striate.nn.functional as F

    x = rng.standard_normal(shape).astype(np.float32)
    xs, xt = st.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()

    def ours():
        return F.max_pool2d(xs, k, s, pad, ceil_mode=ceil)

    def theirs():
        return TF.max_pool2d(xt, k, s, pad, ceil_mode=ceil)

    g = rng.standard_normal(tuple(ours().shape)).astype(np.float32)
    gs, gt = st.tensor(g), torch.from_numpy(g)

    def both_ours():
        xs.grad = None
        ours().backward(gs)

    def both_theirs():
        xt.grad = None
        theirs().backward(gt)

    with st.no_grad():
        fwd_ours = median_ms(ours)
    with torch.no_grad():
        fwd_theirs = median_ms(theirs)
    return fwd_ours, median_ms(both_ours), fwd_theirs, median_ms(both_theirs)

if __name__ == "__main__":
    main()
