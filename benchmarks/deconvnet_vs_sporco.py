"""Deconvnet inference against SPORCO's ADMM convolutional basis pursuit, on the same problem.

    python benchmarks/deconvnet_vs_sporco.py [--images 32] [--size 24] [--maps 4] [--kernel 5]

Both minimise λ/2 Σ ‖Σ_j z_j ∗ f_j − y‖² + ‖z‖₁ over maps z of size H + k − 1 (λ = 1) with the
same unit-norm filters, and both results are scored by striate's own ``DeconvLayer.cost``.  The
reference minimum is the lower of a long SPORCO run and a long striate run.  SPORCO is told the
same problem: its maps are (H + k − 1)², the image sits at offset k − 1 in an array of that size,
and ``ConvBPDNMaskDcpl``'s mask restricts the data term to the H × W window where its circular
convolution does not wrap, which is exactly our "valid" convolution; its λ is 1/λ (its objective
is ours divided by λ).  Each solver is timed at several iteration counts from a cold start, in
one run, and the first count within 1% and 5% of the minimum is reported, with a profile of where
striate's time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

from striate.deconvnet import DeconvLayer


def problem(images: int = 32, size: int = 24, maps: int = 4, kernel: int = 5, lam: float = 1.0,
            seed: int = 0) -> tuple[DeconvLayer, np.ndarray]:
    """A layer with seeded unit-norm filters and images made of its sparse maps plus noise."""
    layer = DeconvLayer(1, maps, kernel, lam=lam, seed=seed + 1)
    rng = np.random.default_rng(seed)
    z = np.zeros((images, maps, size + kernel - 1, size + kernel - 1))
    hit = rng.random(z.shape) < 0.03
    z[hit] = 3 * rng.standard_normal(hit.sum())
    y = layer.reconstruct(z) + 0.05 * rng.standard_normal((images, 1, size, size))
    return layer, y


def sporco_solve(layer: DeconvLayer, y: np.ndarray, iters: int) -> np.ndarray:
    """SPORCO's masked ADMM CBPDN on the layer's problem (one input channel): maps (N, M, ·, ·)."""
    from sporco.admm import cbpdn

    k = layer.kernel_size
    n, _, h, w = y.shape
    s = np.zeros((h + k - 1, w + k - 1, n))
    s[k - 1:, k - 1:] = y[:, 0].transpose(1, 2, 0)
    mask = np.zeros((h + k - 1, w + k - 1, 1))
    mask[k - 1:, k - 1:] = 1.0
    opt = cbpdn.ConvBPDNMaskDcpl.Options({"Verbose": False, "MaxMainIter": iters,
                                          "RelStopTol": 0.0, "AutoRho": {"Enabled": True}})
    solver = cbpdn.ConvBPDNMaskDcpl(layer.filters[0].transpose(1, 2, 0), s, 1.0 / layer.lam,
                                    mask, opt, dimK=1)
    return solver.solve()[:, :, 0].transpose(2, 3, 0, 1)


def timed(fn, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def first_within(rows: list[tuple[int, float, float]], tol: float) -> str:
    for count, seconds, ratio in rows:
        if ratio <= 1 + tol:
            return f"{count} iterations, {seconds:.2f} s (ratio {ratio:.4f})"
    return "not reached"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--size", type=int, default=24)
    ap.add_argument("--maps", type=int, default=4)
    ap.add_argument("--kernel", type=int, default=5)
    args = ap.parse_args()
    layer, y = problem(args.images, args.size, args.maps, args.kernel)
    layer.infer(y[:2])  # compile the kernels for a fair clock
    sporco_solve(layer, y[:2], 2)

    long_striate = DeconvLayer(**{**layer.config(), "inner_iters": 100})
    long_striate.filters = layer.filters
    best = min(layer.cost(y, sporco_solve(layer, y, 200)),
               layer.cost(y, long_striate.infer(y)))
    print(f"problem: {args.images} images {args.size}x{args.size}, {args.maps} maps "
          f"{args.kernel}x{args.kernel}; reference minimum {best:.6g}")

    sporco_rows = []
    for iters in (2, 5, 10, 20, 50):
        seconds, z = timed(sporco_solve, layer, y, iters)
        sporco_rows.append((iters, seconds, layer.cost(y, z) / best))
    striate_rows = []
    for inner in (5, 10, 15, 20, 30, 40):
        trial = DeconvLayer(**{**layer.config(), "inner_iters": inner})
        trial.filters = layer.filters
        seconds, z = timed(trial.infer, y)
        striate_rows.append((inner * len(trial.beta_schedule), seconds, layer.cost(y, z) / best))
    for name, rows in (("sporco ADMM", sporco_rows), ("striate deconvnet", striate_rows)):
        print(f"\n{name}: iterations, seconds, cost / minimum")
        for count, seconds, ratio in rows:
            print(f"  {count:4d}  {seconds:7.3f}  {ratio:.4f}")
        print(f"  within 5%: {first_within(rows, 0.05)}")
        print(f"  within 1%: {first_within(rows, 0.01)}")
    seconds, z = timed(layer.infer, y)
    print(f"\nstriate defaults ({layer.inner_iters} x {len(layer.beta_schedule)} alternations, "
          f"{layer.cg_iters} CG steps): {seconds:.3f} s, ratio {layer.cost(y, z) / best:.4f}")

    profile = cProfile.Profile()
    profile.runcall(layer.infer, y)
    stats = pstats.Stats(profile).stats
    total = max(v[3] for v in stats.values())
    parts = {"CG products (F, Fᵀ)": ("_forward", "_adjoint"), "shrinkage": ("shrink",),
             "CG inner products": ("_dot",)}
    print("\nwhere striate's default infer spends its time:")
    for label, names in parts.items():
        spent = sum(v[3] for key, v in stats.items() if key[2] in names)
        print(f"  {label:22s} {spent:6.3f} s  {100 * spent / total:5.1f}%")
    print(f"  {'total':22s} {total:6.3f} s")


if __name__ == "__main__":
    main()
