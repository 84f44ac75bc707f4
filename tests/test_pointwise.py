"""The compiled rectifier passes against NumPy's expressions, on every memory layout."""

import numpy as np
import pytest

from striate.kernels import jit, pointwise


def _layouts(shape, dtype, seed):
    """One array's values in C order, in (C, N, …) memory, and as a non-dense slice."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(dtype)
    out = {"c": a, "strided": np.repeat(a, 2, axis=-1)[..., ::2]}
    if a.ndim >= 2:
        out["cn"] = np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (7, 9), (5,), (), (0, 3)])
def test_relu_and_its_gradient_equal_numpy(shape, dtype):
    for x_layout, x in _layouts(shape, dtype, 0).items():
        if x.size:
            x.flat[0], x.flat[-1] = np.nan, -0.0
        y = pointwise.relu(x)
        np.testing.assert_array_equal(y, np.maximum(x, 0), err_msg=x_layout)
        assert y.dtype == dtype and y.strides == np.empty_like(x).strides
        for g_layout, g in _layouts(shape, dtype, 1).items():
            gx = pointwise.relu_backward(g, y)
            np.testing.assert_array_equal(gx, g * (y > 0), err_msg=f"{x_layout}, g {g_layout}")
            assert gx.dtype == dtype
            expected, written = g * (y > 0), g.copy()
            gx = pointwise.relu_backward(written, y, overwrite=True)
            np.testing.assert_array_equal(gx, expected, err_msg=f"in place, {x_layout}, {g_layout}")
            if pointwise._flat_pair(written, y) is not None:
                assert gx is written


@pytest.mark.skipif(not jit.available(), reason="Numba is not installed")
def test_compiled_passes_serve_dense_arrays_of_one_layout():
    x = _layouts((2, 3, 4, 4), np.float32, 0)
    for layout in ("c", "cn"):
        assert pointwise._flat_pair(x[layout], np.empty_like(x[layout])) is not None
    assert pointwise._flat_pair(x["strided"], np.empty_like(x["strided"])) is None
    assert pointwise._flat_pair(x["c"], x["cn"]) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
def test_affine_relu_in_place_equals_numpy_on_pieces_of_an_output(dtype, relu):
    """The epilogue of a convolution's pieces: whole-row pieces of an (O, N, H, W) array take
    the compiled pass, other views NumPy's; both scale and shift per channel, add a residual
    (in either layout) and rectify (NaN stays NaN) in place, leaving the rest alone."""
    rng = np.random.default_rng(2)
    full = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    full[1, 2, 3, 4] = np.nan
    scale, shift = rng.standard_normal((2, 4)).astype(dtype)
    residual = rng.standard_normal(full.shape).astype(dtype)
    layouts = {"c": residual, "cn": np.ascontiguousarray(residual.swapaxes(0, 1)).swapaxes(0, 1)}
    for piece in (np.s_[:, 1:3], np.s_[:, :, 2:4], np.s_[:, :, :, 1:4], np.s_[:]):
        for a, b, r in ((scale, shift, None), (None, shift, None), (None, None, None),
                        (scale, shift, "c"), (scale, None, "cn")):
            y, expected = full.copy(), full.copy()
            expected[piece] *= 1 if a is None else a[:, None, None, None]
            expected[piece] += 0 if b is None else b[:, None, None, None]
            expected[piece] += 0 if r is None else layouts[r][piece]
            if relu:
                expected[piece] = np.maximum(expected[piece], 0)
            pointwise.affine_relu_(y[piece], a, b, relu,
                                   None if r is None else layouts[r][piece])
            np.testing.assert_allclose(y, expected, rtol=1e-6, err_msg=str(piece))
            assert np.isnan(y[1, 2, 3, 4])
