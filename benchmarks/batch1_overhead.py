"""Where a batch-1 convolution's time goes outside its kernels: one fused conv → BN → ReLU call at
inference of a 3×3 Winograd layer, timed at each level of the call, from the compiled kernels
alone up to the op ``conv2d_inference``, alternating in one process.

    python benchmarks/batch1_overhead.py                      # 32 → 32 channels on 16×16
    python benchmarks/batch1_overhead.py --channels 16 --size 32 --rounds 41

Levels (each includes the one above it):
  kernels            BN's s and t, the weight transform U, the input tiles V, U·V, the output
                     transform and the compiled epilogue, called directly
  correlate          ``kernels.conv.correlate`` (the plan's lookup, closures, the same kernels)
  conv2d_inference   the op: argument checks, ``Function.apply``, the op's context
Prints the median µs of each level over the rounds and what each level adds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import striate as st
from striate import nn
from striate.kernels import conv as K
from striate.kernels import conv_plan, pointwise, winograd
from striate.nn.fusion import bn_affine
from striate.ops.conv import conv2d_inference


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--size", type=int, default=16, help="input height = width")
    p.add_argument("--rounds", type=int, default=31)
    p.add_argument("--calls", type=int, default=50, help="calls per level and round")
    args = p.parse_args()

    c, hw = args.channels, args.size
    rng = np.random.default_rng(0)
    conv, bn = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
    bn.running_var[...] = rng.uniform(0.5, 2, c)
    bn.eval()
    x = st.tensor(rng.standard_normal((1, c, hw, hw)).astype(np.float32))
    xa, wa = x.data, conv.weight.data
    plan = conv_plan.plan_for(xa.shape, wa.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, xa.dtype)
    if plan.forward.algorithm != "winograd":
        raise SystemExit(f"{c} channels on {hw}×{hw} at batch 1 do not take Winograd's path; "
                         "try more channels or a larger size")
    scheme = plan.forward.scheme
    tiles = (scheme.tiles(hw), scheme.tiles(hw))

    def kernels():
        s, t = bn_affine(bn, None, wa.dtype)
        u = winograd.transform_weight(wa, scheme)
        v = winograd.input_tiles(xa, 1, 1, tiles, scheme)
        y = np.empty((c, 1, hw, hw), wa.dtype)
        winograd.output_tiles(u @ v, y, scheme)
        pointwise.affine_relu_(y, s, t, True)

    def correlate():
        s, t = bn_affine(bn, None, wa.dtype)
        K.correlate(xa, wa, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, bias=t, scale=s, relu=True)

    def op():
        s, t = bn_affine(bn, None, wa.dtype)
        conv2d_inference(x, conv.weight, t, conv.stride, conv.padding, conv.dilation,
                         conv.groups, scale=s, relu=True)

    levels = {"kernels": kernels, "correlate": correlate, "conv2d_inference": op}
    times: dict[str, list[float]] = {name: [] for name in levels}
    with st.no_grad():
        for fn in levels.values():  # warm-up: compiles, caches
            for _ in range(10):
                fn()
        for _ in range(args.rounds):
            for name, fn in levels.items():
                start = time.perf_counter()
                for _ in range(args.calls):
                    fn()
                times[name].append((time.perf_counter() - start) / args.calls * 1e6)
    print(f"batch 1, {c} → {c} channels, 3×3 on {hw}×{hw}, {scheme.__name__.rsplit('_')[-1]}: "
          f"median µs per call over {args.rounds} rounds")
    previous = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>18} {median:8.1f}  (+{median - previous:.1f})")
        previous = median


if __name__ == "__main__":
    main()
