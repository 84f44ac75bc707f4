"""The x step: shrink(v, β, p) is the exact per-element minimiser of β/2 (x − v)² + |x|^p."""

import numpy as np
import pytest

from striate.deconvnet.shrink import shrink


def brute_force(v: np.ndarray, beta: float, p: float) -> np.ndarray:
    grid = np.linspace(-6.0, 6.0, 240001)
    cost = 0.5 * beta * (grid[None, :] - v[:, None]) ** 2 + np.abs(grid[None, :]) ** p
    return grid[np.argmin(cost, axis=1)]


@pytest.mark.parametrize("p", [1.0, 0.8, 0.5])
@pytest.mark.parametrize("beta", [0.5, 2.0, 30.0])
def test_shrink_matches_a_grid_search(p, beta):
    v = np.concatenate([np.linspace(-4.0, 4.0, 41), np.random.default_rng(0).normal(0, 2, 20)])
    got = shrink(v, beta, p)
    want = brute_force(v, beta, p)
    objective = lambda x: 0.5 * beta * (x - v) ** 2 + np.abs(x) ** p  # noqa: E731
    # never worse than the grid's best, and at the same point up to the grid step
    assert np.all(objective(got) <= objective(want) + 1e-9)
    assert np.abs(got - want).max() < 1e-3


def test_soft_threshold_for_p_one():
    v = np.array([-3.0, -0.2, 0.0, 0.4, 2.5])
    np.testing.assert_allclose(shrink(v, 2.0, 1.0), [-2.5, 0.0, 0.0, 0.0, 2.0])


def test_p_below_one_jumps_to_zero():
    # for p < 1 the minimiser is discontinuous: small inputs go exactly to zero
    out = shrink(np.linspace(0.0, 0.5, 11), 1.0, 0.5)
    assert np.all(out[:5] == 0.0)


def test_shape_and_sign_preserved():
    v = np.random.default_rng(1).normal(size=(2, 3, 4, 5))
    out = shrink(v, 3.0, 0.8)
    assert out.shape == v.shape
    assert np.all(out * v >= 0)


@pytest.mark.parametrize("beta,p", [(0.0, 1.0), (-1.0, 0.5), (1.0, 0.0), (1.0, 1.5)])
def test_bad_arguments_are_refused(beta, p):
    with pytest.raises(ValueError, match="shrink needs"):
        shrink(np.ones(3), beta, p)
