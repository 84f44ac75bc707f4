"""Winograd F(2×2, 3×3): compiled transforms against their matrix references, adjointness, and
3×3 stride-1 convolutions through it against the reference kernels and PyTorch."""

import numpy as np
import pytest

import striate.nn.functional as F
from helpers import assert_close, assert_conv2d_matches_torch
from striate.kernels import conv as K
from striate.kernels import winograd as W

pytestmark = pytest.mark.skipif(not W.available(), reason="Numba is not installed")
SIZES = [(1, 1), (2, 3), (5, 4), (7, 9), (16, 17)]  # output planes, odd and even


@pytest.fixture
def everywhere(monkeypatch):
    """Let Winograd take every 3×3 stride-1 correlation, however small (the tests' shapes), also
    those with few channels that would take the direct loops."""
    monkeypatch.setenv("STRIATE_DIRECT", "0")
    monkeypatch.setattr(K, "WINOGRAD_MIN_WIDTH", 1)
    monkeypatch.setattr(K, "WINOGRAD_MIN_PIXELS", 1)
    monkeypatch.setattr(K, "WINOGRAD_MAX_CHANNELS", 1 << 30)


def _close(a, b, dtype):
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= (1e-13 if dtype == np.float64 else 1e-5) * np.abs(b).max()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("h, w", SIZES)
def test_compiled_transforms_match_their_matrix_references(h, w, dtype):
    rng = np.random.default_rng(0)
    ht, wt = W.tiles(h), W.tiles(w)
    for top, left, extra in [(0, 0, 0), (1, 1, 0), (2, 0, 1), (-1, 1, -1), (1, -1, 2)]:
        # an input that the tiles cover with `extra` rows and columns to spare (negative: the
        # tiles stop short), padded by top rows and left columns (negative: cropped)
        x = rng.standard_normal((2, 3, 2 * ht + 2 - top + extra, 2 * wt + 2 - left + extra))
        x = x.astype(dtype)
        buf = K.spread(x, (1, 1), ((top, -extra), (left, -extra)))  # the padded plane itself
        _close(W.input_tiles(x, top, left, (ht, wt)), W.input_tiles_reference(buf), dtype)
    g = rng.standard_normal((4, 2, h, w)).astype(dtype)
    _close(W.gradient_tiles(g), W.gradient_tiles_reference(g), dtype)
    m = rng.standard_normal((16, 4, ht * 2 * wt)).astype(dtype)
    y = np.full((4, 2, h, w), np.nan, dtype)
    W.output_tiles(m, y)
    _close(y, W.output_tiles_reference(m, 2, (h, w)), dtype)


@pytest.mark.parametrize("h, w", SIZES)
def test_backward_transforms_are_the_adjoints(h, w):
    """<output_tiles(M), G> = <M, gradient_tiles(G)> and <U(K), dU> = <K, weight_from_tiles(dU)>:
    the backward pass is exactly the transpose of the forward's linear maps."""
    rng = np.random.default_rng(1)
    m = rng.standard_normal((16, 3, 2 * W.tiles(h) * W.tiles(w)))
    g = rng.standard_normal((3, 2, h, w))
    y = np.empty_like(g)
    W.output_tiles(m, y)
    assert np.isclose(np.vdot(y, g), np.vdot(m, W.gradient_tiles(g)), rtol=1e-12)
    k, du = rng.standard_normal((4, 5, 3, 3)), rng.standard_normal((16, 4, 5))
    assert np.isclose(np.vdot(W.transform_weight(k), du), np.vdot(k, W.weight_from_tiles(du)),
                      rtol=1e-12)


def test_one_tile_is_the_correlation():
    """Aᵀ[(G K Gᵀ) ⊙ (Bᵀ D B)]A is the 2×2 valid correlation of a 4×4 tile with a 3×3 kernel."""
    rng = np.random.default_rng(2)
    d, k = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    y = W.A_T @ ((W.G @ k @ W.G.T) * (W.B_T @ d @ W.B_T.T)) @ W.A_T.T
    direct = [[np.sum(d[i:i + 3, j:j + 3] * k) for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(y, direct, rtol=1e-12)


CASES = [  # x shape, out channels, pads ((top, bottom), (left, right))
    ((2, 3, 7, 9), 4, ((1, 1), (1, 1))),
    ((1, 1, 3, 3), 1, ((0, 0), (0, 0))),
    ((3, 5, 6, 5), 2, ((2, 0), (1, 2))),
    ((2, 4, 1, 8), 3, ((1, 1), (1, 1))),
    ((2, 2, 11, 4), 6, ((0, 2), (2, 0))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, out, pads", CASES)
@pytest.mark.parametrize("chunk_bytes", [K.CHUNK_BYTES, 256])
def test_winograd_convolution_matches_the_reference(everywhere, monkeypatch, x_shape, out, pads,
                                                     dtype, chunk_bytes):
    """Forward, input gradient and weight gradient, in whole-image pieces and in blocks of two
    output rows (small ``chunk_bytes``) on two threads."""
    monkeypatch.setattr(K, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setenv("STRIATE_NUM_THREADS", "2")
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((out, x_shape[1], 3, 3)).astype(dtype)
    args = ((1, 1), pads, (1, 1), 1)
    assert K._method(x, w.shape, (1, 1), (1, 1), (1, 1), 1, 1) == "winograd"
    y = K.correlate(x, w, *args)
    g = rng.standard_normal(y.shape).astype(dtype)
    runs = [(y, K.correlate_transpose(g, w, *args, x_shape[2:]),
             K.correlate_weight(x, g, (3, 3), *args))]
    runs.append((K.correlate(x, w, *args, reference=True),
                 K.correlate_transpose(g, w, *args, x_shape[2:], reference=True),
                 K.correlate_weight(x, g, (3, 3), *args, reference=True)))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for fast, ref, what in zip(*runs, ("forward", "input grad", "weight grad"), strict=True):
        assert fast.dtype == dtype
        assert_close(fast, ref, rtol=tol, what=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_through_winograd_matches_torch(dtype):
    """A ResNet-sized layer (16 → 16 channels on 32×32, padding 1), which takes Winograd by
    default, against PyTorch: output and all three gradients."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 16, 32, 32)), rng.standard_normal((16, 16, 3, 3)) * 0.1
    b = rng.standard_normal(16)
    assert K._method(x, w.shape, (1, 1), (1, 1), (1, 1), 1, 32) == "winograd"
    assert_conv2d_matches_torch(x, w, b, dtype, padding=1)


def test_which_convolutions_take_winograd(monkeypatch):
    x = np.zeros((1, 16, 32, 32), np.float32)
    assert K._winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)
    assert not K._winograd_fits(x, (16, 16, 5, 5), (1, 1), (1, 1), (1, 1), 1, 32)
    assert not K._winograd_fits(x, (16, 16, 3, 3), (1, 1), (2, 2), (1, 1), 1, 16)  # stride
    assert not K._winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (2, 2), 1, 28)  # dilation
    assert not K._winograd_fits(x, (16, 8, 3, 3), (1, 1), (1, 1), (1, 1), 2, 32)  # groups
    assert not K._winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 2)  # narrow
    small = np.zeros((1, 16, 8, 8), np.float32)  # batch 1 on 8×8: too little work
    assert K._winograd_fits(small[[0] * 4], (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 8)
    assert not K._winograd_fits(small, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 8)
    assert not K._winograd_fits(x, (128, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)  # wide
    monkeypatch.setenv("STRIATE_WINOGRAD", "0")
    assert not K._winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)


@pytest.mark.parametrize("x_shape, out, padding", [((2, 3, 5, 7), 4, 1), ((1, 2, 6, 4), 3, 0),
                                                    ((2, 2, 3, 5), 2, 2)])
def test_winograd_gradients_match_central_differences(everywhere, x_shape, out, padding):
    """Float64 central differences through conv2d with every 3×3 layer on Winograd (the
    gradient-check table's shapes are narrower than where Winograd is taken by default)."""
    from striate.testing.gradcheck import Case, check_case

    case = Case(op="conv2d", config=f"winograd {x_shape}",
                fn=lambda x, w, b: F.conv2d(x, w, b, padding=padding),
                make_inputs=lambda rng: (rng.standard_normal(x_shape),
                                         rng.standard_normal((out, x_shape[1], 3, 3)),
                                         rng.standard_normal(out)))
    assert check_case(case) < case.tol
