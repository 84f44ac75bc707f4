"""The normalised Gaussian window shared by Gaussian pooling and local contrast normalisation."""

from __future__ import annotations

import numpy as np


def gaussian_window(size: tuple[int, int], sigma: float | None = None,
                    dtype=np.float64) -> np.ndarray:
    """w[p, q] ∝ exp(−(Δp² + Δq²) / 2σ²), Δ measured from the window centre, Σ w = 1.

    ``sigma`` defaults to a quarter of the larger side (so the window holds about ±2σ).
    """
    kh, kw = size
    if kh < 1 or kw < 1:
        raise ValueError(f"gaussian_window: size must be positive, got {size}")
    sigma = max(kh, kw) / 4.0 if sigma is None else float(sigma)
    if sigma <= 0:
        raise ValueError(f"gaussian_window: sigma must be positive, got {sigma}")
    dp = np.arange(kh) - (kh - 1) / 2.0
    dq = np.arange(kw) - (kw - 1) / 2.0
    w = np.exp(-(dp[:, None] ** 2 + dq[None, :] ** 2) / (2.0 * sigma**2))
    return (w / w.sum()).astype(dtype)
