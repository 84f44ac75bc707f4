"""Where one Winograd convolution's time goes: per chunk of the work (one core), the input
transform, the 16 GEMMs and the output transform of the forward pass, and the gradient transform
and GEMM of the weight gradient; then the whole forward on every core, and the whole backward
(both gradients) on every core, separately (``correlate_transpose`` and ``correlate_weight``)
and together (``correlate_gradients``, F(4×4, 3×3) on whole-image chunks).  ResNet-20's three
stages, batch 128, float32, with the scheme the convolution plan picks for each
(``STRIATE_WINOGRAD=2``, or ``st.backends.conv.winograd_f4 = False``: F(2×2, 3×3) everywhere).

    python benchmarks/winograd_parts.py
    STRIATE_WINOGRAD=2 python benchmarks/winograd_parts.py
"""

from __future__ import annotations

import time

import numpy as np

import striate as st
from striate.kernels import conv, conv_plan, conv_winograd, winograd

STAGES = [(16, 32), (32, 16), (64, 8)]  # channels in = out, plane size
BATCH = 128


def median_ms(fn, repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def stage(channels: int, size: int, rng: np.random.Generator) -> str:
    """One table row: a 3×3 layer of ``channels`` in and out on ``size``² planes, padding 1."""
    x = rng.standard_normal((BATCH, channels, size, size), dtype=np.float32)
    w = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32)
    g = rng.standard_normal((BATCH, channels, size, size), dtype=np.float32)
    pads, out_hw = ((1, 1), (1, 1)), (size, size)
    plan = conv_plan.plan_for(x.shape, w.shape, (1, 1), pads, (1, 1), 1, x.dtype)
    work = plan.forward
    scheme, parts = work.scheme, work.chunks
    tiles = conv_winograd.chunk_tiles(x, pads, out_hw, scheme)
    images, rows = parts[0]
    u = winograd.transform_weight(w, scheme)
    v = tiles(parts[0])
    m = u @ v
    y = np.empty((channels, BATCH, size, size), np.float32)[:, images, rows]
    g_part = g[images, :, rows].transpose(1, 0, 2, 3)
    grad_m = winograd.gradient_tiles(g_part, scheme)
    name = scheme.__name__.rsplit("_", 1)[-1]
    return (f"{name:>6} {channels:8d} {size:5d} | {len(parts):6d} {v.shape[2]:6d} | "
            f"{median_ms(lambda: tiles(parts[0])):5.3f} {median_ms(lambda: u @ v):5.3f} "
            f"{median_ms(lambda: winograd.output_tiles(m, y, scheme)):7.3f} | "
            f"{median_ms(lambda: winograd.gradient_tiles(g_part, scheme)):8.3f} "
            f"{median_ms(lambda: grad_m @ v.transpose(0, 2, 1)):5.3f} | "
            f"{median_ms(lambda: conv_winograd.correlate(x, w, pads, out_hw, work), 5):6.2f} ms | "
            f"{_backward_ms(x, w, g, pads)}")


def _backward_ms(x, w, g, pads) -> str:
    """Both gradients on every core, separately and together (alternating, medians)."""
    args = ((1, 1), pads, (1, 1), 1)
    if conv.correlate_gradients(x, g, w, *args) is None:
        return "      (no joint path)"
    runs = {"separate": [], "together": []}
    calls = {"separate": lambda: (conv.correlate_transpose(g, w, *args, x.shape[2:]),
                                  conv.correlate_weight(x, g, (3, 3), *args)),
             "together": lambda: conv.correlate_gradients(x, g, w, *args)}
    for _ in range(7):
        for name, fn in calls.items():
            runs[name].append(median_ms(fn, 3))
    return f"{np.median(runs['separate']):6.2f} → {np.median(runs['together']):6.2f} ms"


def main() -> None:
    st.backends.tune_process()  # one BLAS thread, memory reuse, as the command line runs
    rng = np.random.default_rng(0)
    print("scheme channels plane | chunks  tiles | input  GEMM  output | gradient  GEMM "
          "| forward (all cores) | backward, separate → together")
    for channels, size in STAGES:
        print(stage(channels, size, rng))


if __name__ == "__main__":
    main()
