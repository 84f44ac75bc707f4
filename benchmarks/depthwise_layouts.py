"""The depthwise layers' two loop layouts side by side: plane-wise (``conv_depthwise.py``) and
channels-last (``conv_depthwise_nhwc.py``), forward, input gradient and weight gradient, on
MobileNet-like 3 × 3 layers from 2 × 2 to 32 × 32 planes, one thread, float32.

    python benchmarks/depthwise_layouts.py

Each figure is the median of 15 runs after three warm-ups, in ms (``conv_vs_torch.median_ms``).
"""

from __future__ import annotations

import numpy as np
from conv_vs_torch import median_ms

import striate as st
from striate.kernels import conv as K
from striate.kernels import conv_plan

# (batch, channels, height = width, stride)
SHAPES = [(8, 512, 4, 1), (8, 1024, 2, 1), (8, 256, 8, 1), (8, 512, 8, 2), (16, 128, 16, 1),
          (16, 64, 32, 1), (32, 512, 2, 1), (128, 256, 4, 1)]
LAYOUTS = ("depthwise", "depthwise-nhwc")


def passes(n: int, c: int, size: int, stride: int, layout: str) -> tuple[float, float, float]:
    """(forward, input gradient, weight gradient) ms of one 3 × 3 depthwise layer (padding 1)."""
    rng = np.random.default_rng(0)
    dtype = np.dtype(np.float32)
    x_shape, w_shape, pads = (n, c, size, size), (c, 1, 3, 3), ((1, 1), (1, 1))
    geometry = ((stride, stride), pads, (1, 1), c)
    out_hw = conv_plan.out_size((size, size), (3, 3), (stride, stride), pads, (1, 1))
    x, w = rng.standard_normal(x_shape, dtype), rng.standard_normal(w_shape, dtype)
    g = rng.standard_normal((n, c, *out_hw), dtype)
    work = conv_plan.correlation_pass(layout, None, x_shape, w_shape, pads, c, out_hw, dtype)
    adjoint = conv_plan.adjoint_pass(layout, x_shape, w_shape, pads, c, out_hw, dtype)
    plan = conv_plan.assemble(work, adjoint, work, x_shape, w_shape, out_hw, dtype)
    return (median_ms(lambda: K.correlate(x, w, *geometry, plan=plan)),
            median_ms(lambda: K.correlate_transpose(g, w, *geometry, (size, size), plan=plan)),
            median_ms(lambda: K.correlate_weight(x, g, (3, 3), *geometry, plan=plan)))


def main() -> None:
    st.backends.tune_process()
    st.backends.cpu.num_threads = 1
    print("layer (batch x channels x plane, stride): plane-wise / channels-last ms")
    for n, c, size, stride in SHAPES:
        ours, theirs = (passes(n, c, size, stride, layout) for layout in LAYOUTS)
        cells = "  ".join(f"{what} {a:.3f}/{b:.3f}"
                          for what, a, b in zip(("fwd", "dX", "dW"), ours, theirs, strict=True))
        print(f"{n:4d}x{c:5d}x{size:3d}² s{stride}: {cells}", flush=True)


if __name__ == "__main__":
    main()
