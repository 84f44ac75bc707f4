"""One layer of a Deconvolutional Network (Zeiler, Krishnan, Taylor & Fergus, CVPR 2010).

The layer explains its C input maps y_i by M sparse feature maps z_j and filters f_ij,

    ŷ_i = Σ_j g_ij (z_j ∗ f_ij)        (∗ a "valid" convolution: z_j is (H + k − 1)², ŷ_i is H²)

with no encoder: the maps of an input are found by minimising, the filters fixed,

    C(y) = λ/2 Σ_i ‖ŷ_i − y_i‖² + β/2 Σ_j ‖z_j − x_j‖² + Σ_j |x_j|^p

by alternating between z (a linear system solved by conjugate gradients with convolutions) and
the auxiliary x (an element-wise shrinkage), while β grows along a schedule.  x splits the
non-smooth penalty from the quadratic data term so that each half has an exact, cheap solution;
as β → ∞, z = x and C(y) becomes the sparse-coding cost λ/2‖ŷ − y‖² + Σ|z|^p.

Every product uses striate's own correlation kernels (``striate.kernels.conv``), with the weight
W[i, j] = g_ij · rot180(f_ij), since z ∗ f = z ⋆ rot180(f) (⋆ the correlation).  The solver
works in float64 by default: CG's recurrences lose accuracy in float32 long before the cost
settles; ``dtype="float32"`` is accepted for speed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..kernels.conv import correlate, correlate_transpose, correlate_weight
from .connectivity import connection_table
from .shrink import shrink
from .solve import conjugate_gradient

__all__ = ["DEFAULT_SCHEDULE", "DeconvLayer"]

# β = 10, 100, 1000 with 20 accelerated alternations each: chosen against SPORCO's minimum
# (docs/deconvnet.md); larger β gains little once x and z agree to the solver's accuracy.
DEFAULT_SCHEDULE = (10.0, 100.0, 1000.0)
_ONE = (1, 1)
_NO_PAD = ((0, 0), (0, 0))


class DeconvLayer:
    """A deconvolutional layer: filters (C, M, k, k) of unit-norm planes, a (C, M) connection
    table, and inference of the maps z (N, M, H + k − 1, W + k − 1) of an input y (N, C, H, W)."""

    def __init__(self, in_channels: int, num_maps: int, kernel_size: int, lam: float = 1.0,
                 p: float = 1.0, connectivity: Any = "full",
                 beta_schedule: Sequence[float] = DEFAULT_SCHEDULE, inner_iters: int = 20,
                 cg_iters: int = 3, cg_tol: float = 1e-4, filter_cg_iters: int = 20,
                 momentum: bool = True, seed: int = 0, dtype: str = "float64") -> None:
        for name, value in (("in_channels", in_channels), ("num_maps", num_maps),
                            ("kernel_size", kernel_size), ("inner_iters", inner_iters),
                            ("cg_iters", cg_iters), ("filter_cg_iters", filter_cg_iters)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"lam must be a positive number, not {lam!r}")
        if not 0 < p <= 1:
            raise ValueError(f"p must satisfy 0 < p <= 1, not {p!r}")
        schedule = tuple(float(b) for b in beta_schedule)
        if not schedule or not all(np.isfinite(b) and b > 0 for b in schedule):
            raise ValueError(f"beta_schedule must be a non-empty list of positive numbers, "
                             f"not {beta_schedule!r}")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', not {dtype!r}")
        self.in_channels, self.num_maps = int(in_channels), int(num_maps)
        self.kernel_size, self.lam, self.p = int(kernel_size), float(lam), float(p)
        self.beta_schedule, self.inner_iters = schedule, int(inner_iters)
        self.cg_iters, self.cg_tol = int(cg_iters), float(cg_tol)
        self.filter_cg_iters, self.seed, self.dtype = int(filter_cg_iters), int(seed), dtype
        self.momentum = bool(momentum)
        self.connectivity = connection_table(connectivity, self.in_channels, self.num_maps,
                                             self.seed)
        self._mask = self.connectivity.astype(dtype)[:, :, None, None]
        rng = np.random.default_rng(self.seed)
        shape = (self.in_channels, self.num_maps, self.kernel_size, self.kernel_size)
        self.filters = rng.standard_normal(shape)

    # ----- filters and their (de)serialisation -------------------------------------------
    @property
    def filters(self) -> np.ndarray:
        """The filters f (C, M, k, k); planes with g_ij = 1 have unit norm, the others are 0."""
        return self._filters

    @filters.setter
    def filters(self, value: Any) -> None:
        f = np.asarray(value)
        k = self.kernel_size
        want = (self.in_channels, self.num_maps, k, k)
        if f.shape != want:
            raise ValueError(f"filters must have shape {want}, not {f.shape}")
        if not np.all(np.isfinite(f)):
            raise ValueError("filters must be finite")
        self._filters = _unit_planes(f.astype(self.dtype) * self._mask)
        self._weight = np.ascontiguousarray(self._filters[:, :, ::-1, ::-1])

    def config(self) -> dict:
        """The constructor's arguments as a JSON-safe dict (the connection table as lists)."""
        return {"in_channels": self.in_channels, "num_maps": self.num_maps,
                "kernel_size": self.kernel_size, "lam": self.lam, "p": self.p,
                "connectivity": self.connectivity.astype(int).tolist(),
                "beta_schedule": list(self.beta_schedule), "inner_iters": self.inner_iters,
                "cg_iters": self.cg_iters, "cg_tol": self.cg_tol,
                "filter_cg_iters": self.filter_cg_iters, "momentum": self.momentum,
                "seed": self.seed, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict, filters: Any = None) -> DeconvLayer:
        """A layer built from :meth:`config`'s dict, with ``filters`` when given."""
        layer = cls(**config)
        if filters is not None:
            layer.filters = filters
        return layer

    # ----- the linear operator F and its adjoints -----------------------------------------
    def reconstruct(self, z: Any) -> np.ndarray:
        """ŷ_i = Σ_j g_ij (z_j ∗ f_ij): maps (N, M, H + k − 1, W + k − 1) → (N, C, H, W)."""
        z = self._check(z, self.num_maps, "maps z", self.kernel_size)
        return self._forward(z)

    def _forward(self, z: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
        """F z, as the valid correlation of z with W = g · rot180(f)."""
        w = self._weight if weight is None else weight
        return np.ascontiguousarray(correlate(z, w, _ONE, _NO_PAD, _ONE, 1))

    def _adjoint(self, r: np.ndarray) -> np.ndarray:
        """Fᵀ r: (Fᵀ r)_j = Σ_i g_ij f_ij ⋆ r_i, the full correlation back to the maps' size."""
        k = self.kernel_size
        out_hw = (r.shape[2] + k - 1, r.shape[3] + k - 1)
        return np.ascontiguousarray(correlate_transpose(r, self._weight, _ONE, _NO_PAD, _ONE, 1,
                                                        out_hw))

    def _filter_adjoint(self, z: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Σ_n r_i ⋆ z_j rotated by 180° and masked by g: the adjoint of f ↦ F(f) z."""
        k = self.kernel_size
        dw = correlate_weight(z, r, (k, k), _ONE, _NO_PAD, _ONE, 1)
        return np.ascontiguousarray(dw[:, :, ::-1, ::-1]) * self._mask

    # ----- costs and gradients --------------------------------------------------------------
    def cost(self, y: Any, z: Any) -> float:
        """λ/2 Σ ‖ŷ − y‖² + Σ |z|^p over the whole batch, as a float."""
        y = self._check(y, self.in_channels, "input y")
        z = self._check(z, self.num_maps, "maps z", self.kernel_size, y.shape)
        return self._data_cost(y, z) + float(np.sum(np.abs(z) ** self.p))

    def total_cost(self, y: Any, z: Any, x: Any, beta: float) -> float:
        """The split cost λ/2 Σ ‖ŷ − y‖² + β/2 Σ ‖z − x‖² + Σ |x|^p that inference decreases."""
        y = self._check(y, self.in_channels, "input y")
        z = self._check(z, self.num_maps, "maps z", self.kernel_size, y.shape)
        x = self._check(x, self.num_maps, "maps x", self.kernel_size, y.shape)
        return (self._data_cost(y, z) + 0.5 * beta * float(np.sum((z - x) ** 2))
                + float(np.sum(np.abs(x) ** self.p)))

    def _data_cost(self, y: np.ndarray, z: np.ndarray) -> float:
        """λ/2 Σ ‖ŷ − y‖²."""
        return 0.5 * self.lam * float(np.sum((self._forward(z) - y) ** 2))

    def gradient(self, y: Any, z: Any, x: Any = None,
                 beta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(∂E/∂z, ∂E/∂f) of the smooth part E = λ/2 Σ_n Σ_i ‖ŷ_i − y_i‖² + β/2 Σ ‖z − x‖².

        With r_i = ŷ_i − y_i and ŷ_i = Σ_j g_ij (z_j ∗ f_ij), the chain rule through the
        convolution gives ∂E/∂z_j = λ Σ_i g_ij f_ij ⋆ r_i + β (z_j − x_j) (a full correlation,
        the adjoint of the valid convolution), and ∂E/∂f_ij = λ g_ij Σ_n rot180(r_i ⋆ z_j)
        (the valid correlation of the maps with the residual, rotated because f enters by
        convolution).  The z gradient set to zero is the normal equation that inference solves;
        the f gradient is the one filter learning solves.  x defaults to 0 (with beta = 0)."""
        y = self._check(y, self.in_channels, "input y")
        z = self._check(z, self.num_maps, "maps z", self.kernel_size, y.shape)
        r = self._forward(z) - y
        dz = self.lam * self._adjoint(r)
        if beta:
            x = np.zeros_like(z) if x is None else self._check(x, self.num_maps, "maps x",
                                                                   self.kernel_size, y.shape)
            dz = dz + beta * (z - x)
        return dz, self.lam * self._filter_adjoint(z, r)

    # ----- inference: the maps with the filters fixed ---------------------------------------
    def infer(self, y: Any, beta_schedule: Sequence[float] | None = None) -> np.ndarray:
        """The maps z (N, M, H + k − 1, W + k − 1) of y (N, C, H, W), the filters fixed.

        For each β of the schedule, ``inner_iters`` times: the z step solves
        (λFᵀF + βI) z = λFᵀy + βv by at most ``cg_iters`` conjugate-gradient steps warm-started
        from the last z, then the x step sets x = shrink(z, β, p).  Without ``momentum``, v = x
        (the paper's scheme: the split cost never increases).  With it, v extrapolates
        x_t + (τ_t − 1)/τ_{t+1} (x_t − x_{t−1}), τ_{t+1} = (1 + √(1 + 4τ_t²))/2, restarted at each
        β: at a fixed β the x update is a proximal-gradient step of size 1/β on the Moreau
        envelope of the data term, and this is Nesterov's (FISTA's) acceleration of it, which
        reached the 1% that the plain scheme needed ~10× more alternations for.  Returns the
        last x: exactly sparse, and within the schedule's tolerance of z."""
        y = self._check(y, self.in_channels, "input y")
        schedule = self.beta_schedule if beta_schedule is None else tuple(beta_schedule)
        k = self.kernel_size
        z = np.zeros((y.shape[0], self.num_maps, y.shape[2] + k - 1, y.shape[3] + k - 1),
                     self.dtype)
        x = z.copy()
        lam_fty = self.lam * self._adjoint(y)
        for beta in schedule:
            v, tau = x, 1.0
            lam_ftf_z = None  # λFᵀF z, carried from one z step to the next (computed afresh
            for _ in range(self.inner_iters):  # at each β, so rounding does not build up)
                z, lam_ftf_z = self._z_step(lam_fty, v, beta, z, lam_ftf_z)
                x_new = shrink(z, beta, self.p)
                if self.momentum:
                    tau_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * tau * tau))
                    v = x_new + ((tau - 1.0) / tau_new) * (x_new - x)
                    tau = tau_new
                else:
                    v = x_new
                x = x_new
        return x

    def solve_maps(self, lam_fty: np.ndarray, x: np.ndarray, beta: float,
                   z0: np.ndarray, iters: int | None = None, tol: float | None = None
                   ) -> np.ndarray:
        """The z step: CG on (λFᵀF + βI) z = λFᵀy + βx from z0, each product two convolutions."""
        return self._z_step(lam_fty, x, beta, z0, None, iters, tol)[0]

    def _z_step(self, lam_fty: np.ndarray, x: np.ndarray, beta: float, z0: np.ndarray,
                lam_ftf_z0: np.ndarray | None, iters: int | None = None,
                tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`solve_maps`, given λFᵀF z0 if known (a warm start's first product, two
        convolutions, then costs none), and returning λFᵀF z with z: CG tracks A z = b − r."""
        def apply(v: np.ndarray) -> np.ndarray:
            return self.lam * self._adjoint(self._forward(v)) + beta * v

        a_z0 = None if lam_ftf_z0 is None else lam_ftf_z0 + beta * z0
        z, _, a_z = conjugate_gradient(apply, lam_fty + beta * x, z0,
                                       self.cg_iters if iters is None else iters,
                                       self.cg_tol if tol is None else tol, a_x0=a_z0)
        return z, a_z - beta * z

    # ----- learning: the filters with the maps fixed ----------------------------------------
    def update_filters(self, y: Any, z: Any) -> float:
        """One filter step with the maps fixed; returns the new cost λ/2‖ŷ − y‖² + Σ|z|^p.

        CG on the normal equations λAᵀA f = λAᵀy of min_f λ/2 Σ_n Σ_i ‖Σ_j g_ij z_j ∗ f_ij − y_i‖²
        (A f = ŷ, a convolution of the fixed maps; Aᵀr the correlation of r with them), restricted
        to the planes with g_ij = 1, then each plane renormalised to unit norm.  Renormalising
        can raise the cost, so the step backs off towards the old filters (halving, six times)
        until it does not: the alternating minimisation never goes uphill."""
        y = self._check(y, self.in_channels, "input y")
        z = self._check(z, self.num_maps, "maps z", self.kernel_size, y.shape)
        mask = self._mask

        def apply(f: np.ndarray) -> np.ndarray:
            w = np.ascontiguousarray(f[:, :, ::-1, ::-1])
            return self._filter_adjoint(z, self._forward(z, w))

        old = self._filters
        old_cost = self._data_cost(y, z)
        solved, *_ = conjugate_gradient(apply, self._filter_adjoint(z, y), old,
                                       self.filter_cg_iters, 1e-10, lambda f: f * mask)
        step = 1.0
        for _ in range(7):
            self.filters = _keep_zero_planes(old + step * (solved - old), old)
            if self._data_cost(y, z) <= old_cost * (1 + 1e-12):
                break
            step *= 0.5
        else:
            self.filters = old
        return self._data_cost(y, z) + float(np.sum(np.abs(z) ** self.p))

    def recentre_filters(self) -> None:
        """Shift each map's filter planes so that their energy centroid sits at the centre.

        For map j the energy e_j = Σ_i f_ij² (all its planes together, since one map shift
        moves them all) has a centroid (dy, dx) relative to the kernel's centre; the planes are
        moved by −(dy, dx) rounded, with zeros filled in, and renormalised.  Translating a
        filter by s while translating its map by −s leaves ŷ unchanged as long as nothing is
        pushed out of the k × k support (or the maps' border), so when the filters' true
        support is smaller than k this is a move between equally good solutions that puts a
        filter drifting towards the edge back where it has room to grow; what it pushes out,
        if anything, is the part of the filter with the least energy.  Not a descent step:
        ``fit`` applies it only between epochs, and the next batch re-infers its maps."""
        f = self._filters.copy()
        k = self.kernel_size
        c = np.arange(k) - (k - 1) / 2
        energy = np.sum(f * f, axis=0)                      # (M, k, k)
        for j in range(self.num_maps):
            total = float(energy[j].sum())
            if total <= 0:
                continue
            dy = int(np.round(float(energy[j].sum(axis=1) @ c) / total))
            dx = int(np.round(float(energy[j].sum(axis=0) @ c) / total))
            if dy or dx:
                f[:, j] = _shift_planes(f[:, j], dy, dx)
        self.filters = _keep_zero_planes(f, self._filters)

    def fit(self, images: Any, epochs: int = 1, batch_size: int = 32,
            progress: bool = True, recentre_epochs: int = 0) -> list[float]:
        """Learn the filters from images (N, C, H, W): for each batch, infer the maps then take
        one filter step.  After each of the first ``recentre_epochs`` epochs the filters are
        re-centred (:meth:`recentre_filters`), which keeps learning from random filters out of
        the shifted-copy local minima when the kernel is larger than the filters' support
        (docs/deconvnet.md).  Returns the cost per image after each batch's step."""
        from ..train.trainer import _progress

        images = self._check(images, self.in_channels, "images")
        if int(epochs) != epochs or epochs < 1 or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"epochs and batch_size must be positive integers, not "
                             f"{epochs!r} and {batch_size!r}")
        if int(recentre_epochs) != recentre_epochs or recentre_epochs < 0:
            raise ValueError(f"recentre_epochs must be a non-negative integer, not "
                             f"{recentre_epochs!r}")
        rng = np.random.default_rng(self.seed)
        n = images.shape[0]
        starts = range(0, n, batch_size)
        costs: list[float] = []
        with _progress(epochs * len(starts), "deconvnet", progress) as bar:
            for epoch in range(epochs):
                if 0 < epoch <= recentre_epochs:
                    self.recentre_filters()
                order = rng.permutation(n)
                for start in starts:
                    y = images[order[start:start + batch_size]]
                    costs.append(self.update_filters(y, self.infer(y)) / y.shape[0])
                    bar.set_postfix(cost=f"{costs[-1]:.4g}", refresh=False)
                    bar.update(1)
        return costs

    # ----- input checks ---------------------------------------------------------------------
    def _check(self, a: Any, channels: int, name: str, grow: int = 1,
               like: tuple | None = None) -> np.ndarray:
        """``a`` as a (N, channels, ·, ·) array of the solver's dtype, or a one-line error."""
        a = np.asarray(a)
        if a.ndim != 4 or a.shape[1] != channels:
            raise ValueError(f"{name} must have shape (N, {channels}, H, W), not {a.shape}")
        if like is not None and (a.shape[0] != like[0]
                                 or a.shape[2:] != (like[2] + grow - 1, like[3] + grow - 1)):
            raise ValueError(f"{name} has shape {a.shape}, which does not match an input of "
                             f"shape {like} (maps are k - 1 larger than the input)")
        if min(a.shape[2:]) < grow:
            raise ValueError(f"{name} of spatial size {a.shape[2:]} is smaller than the kernel")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite numbers")
        return np.ascontiguousarray(a, dtype=self.dtype)


def _unit_planes(f: np.ndarray) -> np.ndarray:
    """Each (k, k) plane of f divided by its norm; all-zero planes stay zero."""
    norms = np.sqrt(np.sum(f * f, axis=(2, 3), keepdims=True))
    return f / np.where(norms > 0, norms, 1.0)


def _keep_zero_planes(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """new, with any plane that collapsed to zero (no map activity) taken from old."""
    dead = np.sum(new * new, axis=(2, 3), keepdims=True) < 1e-24
    return np.where(dead, old, new)


def _shift_planes(f: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Planes (..., k, k) moved by (−dy, −dx), zeros filled in: out[a, b] = f[a + dy, b + dx]."""
    out = np.zeros_like(f)
    k = f.shape[-1]
    src_y, dst_y = slice(max(dy, 0), k + min(dy, 0)), slice(max(-dy, 0), k + min(-dy, 0))
    src_x, dst_x = slice(max(dx, 0), k + min(dx, 0)), slice(max(-dx, 0), k + min(-dx, 0))
    out[..., dst_y, dst_x] = f[..., src_y, src_x]
    return out
