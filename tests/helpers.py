"""Shared test helpers: PyTorch comparison and tolerances."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# float64 must match PyTorch to 1e-10 relative, float32 to 1e-4 (norm-wise: max|a−b| / max|b|).
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def to_torch(array: np.ndarray, requires_grad: bool = False):
    t = torch.from_numpy(np.array(array, copy=True, order="C"))  # keeps 0-d arrays 0-d
    return t.requires_grad_(requires_grad) if requires_grad else t


def assert_close(ours, theirs, dtype=None, rtol: float | None = None, what: str = "") -> None:
    """Norm-wise relative comparison of a striate array/tensor with a torch tensor or array."""
    ours = np.asarray(ours.data if hasattr(ours, "grad") else ours)  # a Tensor, or an array
    if hasattr(theirs, "detach"):
        theirs = theirs.detach().cpu().numpy()
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch {theirs.shape}"
    tol = rtol if rtol is not None else RTOL[np.dtype(dtype or ours.dtype)]
    scale = max(np.abs(theirs).max(initial=0.0), 1e-30)
    err = np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max(initial=0.0) / scale
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e}"


def assert_conv2d_matches_torch(x, w, b, dtype, seed: int = 0, **kwargs) -> None:
    """conv2d of x, w, b (cast to ``dtype``) against PyTorch's: output, and the input, weight and
    bias gradients for a random upstream gradient."""
    import striate as st
    import striate.nn.functional as F

    xs, ws, bs = (st.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (to_torch(a.astype(dtype), requires_grad=True) for a in (x, w, b))
    ys, yt = F.conv2d(xs, ws, bs, **kwargs), torch.nn.functional.conv2d(xt, wt, bt, **kwargs)
    assert_close(ys, yt, what="forward")
    up = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(up)
    yt.backward(to_torch(up))
    for ours, theirs, what in ((xs, xt, "input"), (ws, wt, "weight"), (bs, bt, "bias")):
        assert_close(ours.grad, theirs.grad, what=f"{what} grad")
