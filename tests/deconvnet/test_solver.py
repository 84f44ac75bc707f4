"""The conjugate-gradient solves of both sub-problems agree with a dense direct solve, and the
convolution products they use are F and its exact adjoint."""

import numpy as np
import pytest

from striate.deconvnet import DeconvLayer
from striate.deconvnet.shrink import shrink
from striate.deconvnet.solve import conjugate_gradient


def dense(apply, shape) -> np.ndarray:
    """The explicit matrix of a linear map on arrays of ``shape`` (small problems only)."""
    size = int(np.prod(shape))
    cols = []
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        cols.append(np.asarray(apply(e.reshape(shape))).ravel())
    return np.stack(cols, axis=1)


def small_layer(**kw) -> DeconvLayer:
    table = np.array([[1, 0, 1], [0, 1, 1]])
    return DeconvLayer(2, 3, 3, lam=1.7, connectivity=table, seed=4, **kw)


def test_cg_matches_a_dense_solve_on_a_random_spd_matrix():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 30))
    a = a @ a.T + 0.5 * np.eye(30)
    b = rng.normal(size=30)
    x, steps, a_x = conjugate_gradient(lambda v: a @ v, b, iters=200, tol=1e-14)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), atol=1e-8)
    np.testing.assert_allclose(a_x, a @ x, atol=1e-10)  # what a warm start may reuse
    assert steps <= 200


def test_a_warm_start_given_a_x0_takes_the_same_steps_for_one_product_less():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20, 20))
    a = a @ a.T + np.eye(20)
    b, x0 = rng.normal(size=20), rng.normal(size=20)
    products = []

    def apply(v):
        products.append(1)
        return a @ v

    plain = conjugate_gradient(apply, b, x0, iters=5)
    count = len(products)
    given = conjugate_gradient(apply, b, x0, iters=5, a_x0=a @ x0)
    assert len(products) - count == count - 1
    np.testing.assert_allclose(given.x, plain.x, rtol=1e-12)


def test_carrying_ftf_z_leaves_inference_unchanged():
    """infer reuses λFᵀF z between z steps; the same steps without the carry (solve_maps, which
    starts each CG with its own product) give the same maps."""
    layer = small_layer()
    y = np.random.default_rng(4).normal(size=(2, 2, 5, 4))
    z_fast = layer.infer(y, beta_schedule=(1.0, 10.0))
    lam_fty = layer.lam * layer._adjoint(y)
    z = np.zeros_like(z_fast)
    x = z.copy()
    for beta in (1.0, 10.0):
        v, tau = x, 1.0
        for _ in range(layer.inner_iters):
            z = layer.solve_maps(lam_fty, v, beta, z)
            x_new = shrink(z, beta, layer.p)
            if layer.momentum:
                tau_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tau * tau))
                v = x_new + ((tau - 1.0) / tau_new) * (x_new - x)
                tau = tau_new
            else:
                v = x_new
            x = x_new
    np.testing.assert_allclose(z_fast, x, rtol=1e-7, atol=1e-9)


def test_map_step_matches_a_dense_solve():
    layer = small_layer()
    rng = np.random.default_rng(1)
    y = rng.normal(size=(1, 2, 4, 5))
    x = rng.normal(size=(1, 3, 6, 7))
    beta = 3.0
    lam_fty = layer.lam * layer._adjoint(y)
    z = layer.solve_maps(lam_fty, x, beta, np.zeros_like(x), iters=300, tol=1e-14)

    def normal(v):
        return layer.lam * layer._adjoint(layer._forward(v)) + beta * v

    a = dense(normal, x.shape)
    want = np.linalg.solve(a, (lam_fty + beta * x).ravel())
    np.testing.assert_allclose(z.ravel(), want, atol=1e-6)


def test_filter_step_matches_a_dense_solve():
    layer = small_layer(filter_cg_iters=300)
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2, 3, 6, 6))
    y = rng.normal(size=(2, 2, 4, 4))
    mask = np.broadcast_to(layer.connectivity[:, :, None, None], layer.filters.shape)
    live = mask.ravel() > 0

    def design(f):
        return layer._forward(z, np.ascontiguousarray(f[:, :, ::-1, ::-1] * mask))

    a = dense(design, layer.filters.shape)[:, live]
    f_ls = np.zeros(mask.size)
    f_ls[live] = np.linalg.lstsq(a, y.ravel(), rcond=None)[0]
    f_ls = f_ls.reshape(mask.shape)
    layer.update_filters(y, z)
    unit = f_ls / np.linalg.norm(f_ls, axis=(2, 3), keepdims=True).clip(1e-300)
    # the step solves the least squares exactly, then renormalises each live plane
    np.testing.assert_allclose(layer.filters, unit * mask, atol=1e-6)


def test_adjoints_are_exact():
    layer = small_layer()
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 3, 7, 6))
    r = rng.normal(size=(2, 2, 5, 4))
    assert np.isclose(np.sum(layer._forward(z) * r), np.sum(z * layer._adjoint(r)))
    f = rng.normal(size=layer.filters.shape) * layer.connectivity[:, :, None, None]
    forward = layer._forward(z, np.ascontiguousarray(f[:, :, ::-1, ::-1]))
    assert np.isclose(np.sum(forward * r), np.sum(f * layer._filter_adjoint(z, r)))


def test_reconstruct_matches_pytorch_convolution():
    torch = pytest.importorskip("torch")
    layer = small_layer()
    z = np.random.default_rng(4).normal(size=(2, 3, 8, 9))
    # ŷ_i = Σ_j g_ij (z_j ∗ f_ij), and a true convolution is torch's correlation with rot180(f)
    weight = torch.from_numpy(np.ascontiguousarray(
        (layer.filters * layer.connectivity[:, :, None, None])[:, :, ::-1, ::-1]))
    want = torch.nn.functional.conv2d(torch.from_numpy(z), weight).numpy()
    np.testing.assert_allclose(layer.reconstruct(z), want, atol=1e-12)
