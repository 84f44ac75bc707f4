"""Winograd F(2×2, 3×3) and F(4×4, 3×3): compiled transforms against their matrix references,
adjointness, and 3×3 stride-1 convolutions through each against the reference kernels, PyTorch
and central differences."""

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from helpers import assert_close, assert_conv2d_matches_torch
from plan_fixtures import fresh_plans  # noqa: F401 - autouse, for this module
from striate.kernels import conv as K
from striate.kernels import conv_geometry, conv_plan
from striate.kernels import winograd as W
from striate.kernels.conv_plan import correlation_algorithm, winograd_scheme

pytestmark = pytest.mark.skipif(not W.available(), reason="Numba is not installed")
SIZES = [(1, 1), (2, 3), (5, 4), (7, 9), (16, 17)]  # output planes, odd and even
SCHEMES = [W.F2, W.F4]
# (top, left, extra): an input that the tiles cover with `extra` rows and columns to spare
# (negative: the tiles stop short), padded by top rows and left columns (negative: cropped)
PLACEMENTS = [(0, 0, 0), (1, 1, 0), (2, 0, 1), (-1, 1, -1), (1, -1, 2)]
# Every plane geometry (size, left, extra) compiles each transform anew, about 2 s apiece (most
# of this file's time on a fresh checkout), and the geometry logic does not depend on the dtype:
# each size takes two placements (each placement two sizes), in float64, and float32 one size.
TRANSFORM_CASES = [(h, w, (PLACEMENTS[i], PLACEMENTS[(i + 2) % 5]), np.float64)
                   for i, (h, w) in enumerate(SIZES)] + [(7, 9, PLACEMENTS[1:3], np.float32)]


def winograd_fits(x, weight_shape, upsample, stride, dilation, groups, width):
    out_hw = (x.shape[2], width)
    return correlation_algorithm(x.shape, weight_shape, upsample, stride, dilation, groups,
                                 out_hw, x.dtype) == "winograd"


@pytest.fixture
def everywhere(monkeypatch):
    """Let Winograd take every 3×3 stride-1 correlation, however small (the tests' shapes), also
    those with few channels that would take the direct loops."""
    monkeypatch.setattr(st.backends.conv, "direct", False)
    monkeypatch.setattr(conv_plan, "WINOGRAD_MIN_WIDTH", 1)
    monkeypatch.setattr(conv_plan, "WINOGRAD_MIN_PIXELS", 1)
    monkeypatch.setattr(conv_plan, "WINOGRAD_MAX_CHANNELS", 1 << 30)


@pytest.fixture(params=SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
def scheme(request, monkeypatch):
    """Each scheme on every layer: F(4×4, 3×3) from one channel on, or F(2×2, 3×3) only."""
    if request.param is W.F4:
        monkeypatch.setattr(conv_plan, "WINOGRAD_F4_MIN_CHANNELS", 1)
    else:
        monkeypatch.setattr(st.backends.conv, "winograd_f4", False)
    return request.param


def _close(a, b, dtype):
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= (1e-13 if dtype == np.float64 else 1e-5) * np.abs(b).max()


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
@pytest.mark.parametrize("h, w, placements, dtype", TRANSFORM_CASES)
def test_compiled_transforms_match_their_matrix_references(h, w, placements, dtype, scheme):
    rng = np.random.default_rng(0)
    m, ht, wt = scheme.OUT, scheme.tiles(h), scheme.tiles(w)
    for top, left, extra in placements:
        x = rng.standard_normal((2, 3, m * ht + 2 - top + extra, m * wt + 2 - left + extra))
        x = x.astype(dtype)
        # the padded plane itself
        buf = conv_geometry.spread(x, (1, 1), ((top, -extra), (left, -extra)))
        _close(W.input_tiles(x, top, left, (ht, wt), scheme),
               W.input_tiles_reference(buf, scheme), dtype)
        if scheme is W.F4:  # its adjoint, added into x's gradient (compiled for F(4×4) only)
            dv = rng.standard_normal((W.positions(scheme), 3, ht * 2 * wt)).astype(dtype)
            gx = np.ones(x.shape[::-1], dtype).T  # another layout, and something to add to
            W.input_tiles_adjoint(dv, gx, top, left, (ht, wt), scheme)
            _close(gx - 1, W.input_tiles_adjoint_reference(dv, x.shape, top, left, (ht, wt),
                                                           scheme), dtype)
    g = rng.standard_normal((4, 2, h, w)).astype(dtype)
    _close(W.gradient_tiles(g, scheme), W.gradient_tiles_reference(g, scheme), dtype)
    tiles = rng.standard_normal((W.positions(scheme), 4, ht * 2 * wt)).astype(dtype)
    y = np.full((4, 2, h, w), np.nan, dtype)
    W.output_tiles(tiles, y, scheme)
    _close(y, W.output_tiles_reference(tiles, 2, (h, w), scheme), dtype)


@pytest.mark.parametrize("top, left", [(1, 1), (-1, 2), (2, 0)])
def test_input_transform_over_several_passes_of_tiles(top, left):
    """A plane tall enough that F(4×4, 3×3)'s input transform takes its tile rows in several
    blocks of ``BLOCK_TILES`` (the last one short), with rows padded and cropped at both ends."""
    rng = np.random.default_rng(4)
    ht, wt = 100, 3  # 2 images: 6 tiles a tile row, 85 tile rows a block: blocks of 85 and 15
    assert W.F4.BLOCK_TILES // (2 * wt) < ht
    x = rng.standard_normal((2, 3, 4 * ht + 1 - top, 4 * wt + 2 - left)).astype(np.float32)
    buf = conv_geometry.spread(x, (1, 1), ((top, 1), (left, 0)))
    _close(W.input_tiles(x, top, left, (ht, wt), W.F4), W.input_tiles_reference(buf, W.F4),
           np.float32)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("o, c", [(1, 1), (3, 5), (16, 16), (37, 11)])  # 407 pairs: two blocks
def test_compiled_weight_transforms_match_their_references(o, c, dtype, scheme):
    rng = np.random.default_rng(3)
    k = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    du = rng.standard_normal((W.positions(scheme), o, c)).astype(dtype)
    _close(W.transform_weight(k, scheme), W.transform_weight_reference(k, scheme), dtype)
    _close(W.weight_from_tiles(du, scheme), W.weight_from_tiles_reference(du, scheme), dtype)
    # a kernel that is a view (a transposed weight, as the input gradient passes it)
    flipped = k.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    _close(W.transform_weight(flipped, scheme), W.transform_weight_reference(
        np.ascontiguousarray(flipped), scheme), dtype)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
def test_weight_transforms_shared_over_threads_give_the_same_bits(scheme, monkeypatch):
    """Cut into pieces that end inside a block of pairs (3 threads, 1 KiB a piece), the weight
    transform and its adjoint give exactly the one-thread result."""
    rng = np.random.default_rng(5)
    k = rng.standard_normal((37, 11, 3, 3)).astype(np.float32)
    du = rng.standard_normal((W.positions(scheme), 37, 11)).astype(np.float32)
    with st.backends.flags(num_threads=1):
        alone = W.transform_weight(k, scheme), W.weight_from_tiles(du, scheme)
    monkeypatch.setattr(W, "WEIGHT_PARALLEL_MIN_BYTES", 1 << 10)
    with st.backends.flags(num_threads=3):
        shared = W.transform_weight(k, scheme), W.weight_from_tiles(du, scheme)
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
@pytest.mark.parametrize("h, w", SIZES)
def test_backward_transforms_are_the_adjoints(h, w, scheme):
    """<output_tiles(M), G> = <M, gradient_tiles(G)>, <U(K), dU> = <K, weight_from_tiles(dU)>
    and <input_tiles(X), dV> = <X, input_tiles_adjoint(dV)>: the backward pass is exactly the
    transpose of the forward's linear maps."""
    rng = np.random.default_rng(1)
    p = W.positions(scheme)
    ht, wt = scheme.tiles(h), scheme.tiles(w)
    for top, left, x_hw in [(1, 1, (h, w)), (0, 2, (h + 3, w + 1)), (-1, 0, (h + 1, w))]:
        x, dv = rng.standard_normal((2, 3, *x_hw)), rng.standard_normal((p, 3, ht * 2 * wt))
        v = W.input_tiles(x, top, left, (ht, wt), scheme)
        adjoint = W.input_tiles_adjoint_reference(dv, x.shape, top, left, (ht, wt), scheme)
        assert np.isclose(np.vdot(v, dv), np.vdot(x, adjoint), rtol=1e-12)
    m = rng.standard_normal((p, 3, 2 * scheme.tiles(h) * scheme.tiles(w)))
    g = rng.standard_normal((3, 2, h, w))
    y = np.empty_like(g)
    W.output_tiles(m, y, scheme)
    assert np.isclose(np.vdot(y, g), np.vdot(m, W.gradient_tiles(g, scheme)), rtol=1e-12)
    k, du = rng.standard_normal((4, 5, 3, 3)), rng.standard_normal((p, 4, 5))
    assert np.isclose(np.vdot(W.transform_weight(k, scheme), du),
                      np.vdot(k, W.weight_from_tiles(du, scheme)), rtol=1e-12)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.__name__.rsplit("_", 1)[-1])
def test_one_tile_is_the_correlation(scheme):
    """Aᵀ[(G K Gᵀ) ⊙ (Bᵀ D B)]A is the m×m valid correlation of an (m + 2)² tile with a 3×3
    kernel."""
    rng = np.random.default_rng(2)
    m = scheme.OUT
    d, k = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
    g, b_t, a_t = scheme.G, scheme.B_T, scheme.A_T
    y = a_t @ ((g @ k @ g.T) * (b_t @ d @ b_t.T)) @ a_t.T
    direct = [[np.sum(d[i:i + 3, j:j + 3] * k) for j in range(m)] for i in range(m)]
    np.testing.assert_allclose(y, direct, rtol=1e-12)


CASES = [  # x shape, out channels, pads ((top, bottom), (left, right))
    ((2, 3, 7, 9), 4, ((1, 1), (1, 1))),
    ((1, 1, 3, 3), 1, ((0, 0), (0, 0))),
    ((3, 5, 6, 5), 2, ((2, 0), (1, 2))),
    ((2, 4, 1, 8), 3, ((1, 1), (1, 1))),
    ((2, 2, 11, 4), 6, ((0, 2), (2, 0))),
]


@pytest.mark.parametrize("x_shape, out, pads, dtype",
                         [(*case, np.float64) for case in CASES]
                         + [(*CASES[i], np.float32) for i in (0, 2)])
@pytest.mark.parametrize("chunk_bytes", [conv_plan.CHUNK_BYTES, 256])
def test_winograd_convolution_matches_the_reference(everywhere, scheme, monkeypatch, x_shape, out,
                                                     pads, dtype, chunk_bytes):
    """Forward, input gradient and weight gradient, in whole-image pieces and in blocks of whole
    tile rows (small ``chunk_bytes``) on two threads, with each scheme."""
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((out, x_shape[1], 3, 3)).astype(dtype)
    args = ((1, 1), pads, (1, 1), 1)
    assert winograd_fits(x, w.shape, (1, 1), (1, 1), (1, 1), 1, 1)
    y = K.correlate(x, w, *args)
    g = rng.standard_normal(y.shape).astype(dtype)
    runs = [(y, K.correlate_transpose(g, w, *args, x_shape[2:]),
             K.correlate_weight(x, g, (3, 3), *args))]
    runs.append((K.correlate(x, w, *args, reference=True),
                 K.correlate_transpose(g, w, *args, x_shape[2:], reference=True),
                 K.correlate_weight(x, g, (3, 3), *args, reference=True)))
    together = K.correlate_gradients(x, g, w, *args)  # both gradients in one pass, where it can
    plan = conv_plan.plan_for(x.shape, w.shape, *args, x.dtype)
    assert plan.forward.scheme is scheme
    whole_images = all(rows.stop - rows.start == y.shape[2] for _, rows in plan.forward.chunks)
    assert (together is not None) == (scheme is W.F4 and whole_images)
    if together is not None:
        runs[0] += together
        runs[1] += runs[1][1:]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    names = ("forward", "input grad", "weight grad", "input grad, together",
             "weight grad, together")[:len(runs[0])]
    for fast, ref, what in zip(*runs, names, strict=True):
        assert fast.dtype == dtype
        assert_close(fast, ref, rtol=tol, what=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("channels, size, scheme", [(8, 32, W.F2), (16, 32, W.F4), (32, 16, W.F4),
                                                    (64, 8, W.F4)],
                         ids=["8ch-f2", "16ch-f4", "32ch-f4", "64ch-f4"])
def test_conv2d_through_winograd_matches_torch(dtype, channels, size, scheme):
    """ResNet-20's three stages and a narrower layer (padding 1), on the scheme each takes by
    default, against PyTorch: output and all three gradients."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, channels, size, size))
    w = rng.standard_normal((channels, channels, 3, 3)) * np.sqrt(2 / (9 * channels))
    b = rng.standard_normal(channels)
    assert winograd_fits(x, w.shape, (1, 1), (1, 1), (1, 1), 1, size)
    assert winograd_scheme(channels, channels) is scheme
    assert_conv2d_matches_torch(x, w, b, dtype, padding=1)


def test_which_convolutions_take_winograd(monkeypatch):
    x = np.zeros((1, 16, 32, 32), np.float32)
    assert winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)
    assert not winograd_fits(x, (16, 16, 5, 5), (1, 1), (1, 1), (1, 1), 1, 32)
    assert not winograd_fits(x, (16, 16, 3, 3), (1, 1), (2, 2), (1, 1), 1, 16)  # stride
    assert not winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (2, 2), 1, 28)  # dilation
    assert not winograd_fits(x, (16, 8, 3, 3), (1, 1), (1, 1), (1, 1), 2, 32)  # groups
    assert not winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 2)  # narrow
    small = np.zeros((1, 16, 8, 8), np.float32)  # batch 1 on 8×8: too little work
    assert winograd_fits(small[[0] * 4], (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 8)
    assert not winograd_fits(small, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 8)
    assert not winograd_fits(x, (128, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)  # wide
    assert winograd_scheme(8, 16) is W.F2 and winograd_scheme(16, 8) is W.F2
    assert winograd_scheme(16, 16) is W.F4 and winograd_scheme(32, 64) is W.F4
    monkeypatch.setattr(st.backends.conv, "winograd_f4", False)  # F(2×2, 3×3) only
    assert winograd_scheme(32, 64) is W.F2
    monkeypatch.setattr(st.backends.conv, "winograd", False)
    assert not winograd_fits(x, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, 32)


@pytest.mark.parametrize("x_shape, out, padding", [((2, 3, 5, 7), 4, 1), ((1, 2, 6, 4), 3, 0),
                                                    ((2, 2, 3, 5), 2, 2)])
def test_winograd_gradients_match_central_differences(everywhere, scheme, x_shape, out, padding):
    """Float64 central differences through conv2d with every 3×3 layer on Winograd (the
    gradient-check table's shapes are narrower than where Winograd is taken by default)."""
    from striate.testing.gradcheck import Case, check_case

    case = Case(op="conv2d", config=f"winograd {x_shape}",
                fn=lambda x, w, b: F.conv2d(x, w, b, padding=padding),
                make_inputs=lambda rng: (rng.standard_normal(x_shape),
                                         rng.standard_normal((out, x_shape[1], 3, 3)),
                                         rng.standard_normal(out)))
    assert check_case(case) < case.tol
