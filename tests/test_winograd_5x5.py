"""Winograd F(2×2, 5×5): its matrices, its compiled transforms against their references, and 5×5
stride-1 convolutions through it against the reference kernels, PyTorch and central differences.
A fixture puts it in every plan it fits, also on the small shapes where the rules keep im2col."""

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from helpers import assert_close, assert_conv2d_matches_torch
from plan_fixtures import fresh_plans  # noqa: F401 - autouse, for this module
from striate.kernels import conv as K
from striate.kernels import conv_geometry, conv_plan, conv_tuning
from striate.kernels import winograd as W

pytestmark = pytest.mark.skipif(not W.available(), reason="Numba is not installed")
S = W.F2_5X5


def _close(a, b, dtype):
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= (1e-13 if dtype == np.float64 else 1e-5) * np.abs(b).max()


def _own(candidates):
    return next((p for p in candidates if p.scheme is S), None)


@pytest.fixture
def winograd_5x5(monkeypatch):
    """Every pass that F(2×2, 5×5) can compute takes it (the rules' passes elsewhere)."""
    rules = conv_plan.rules_plan

    def plan(x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype, on_cpu=True):
        ruled = rules(x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype,
                      on_cpu)
        geometry = (x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype)
        forward = _own(conv_plan.correlation_candidates(
            x_shape, weight_shape, (1, 1), pads, stride, dilation, groups, out_hw, dtype))
        input_grad = _own(conv_plan.input_grad_candidates(*geometry))
        return conv_plan.assemble(forward or ruled.forward, input_grad or ruled.input_grad,
                                  forward or ruled.weight_grad, x_shape, weight_shape, out_hw,
                                  dtype)

    monkeypatch.setattr(conv_plan, "rules_plan", plan)


def test_one_tile_is_the_correlation():
    """Aᵀ[(G K Gᵀ) ⊙ (Bᵀ D B)]A is the 2×2 valid correlation of a 6×6 tile with a 5×5 kernel."""
    rng = np.random.default_rng(2)
    d, k = rng.standard_normal((6, 6)), rng.standard_normal((5, 5))
    y = S.A_T @ ((S.G @ k @ S.G.T) * (S.B_T @ d @ S.B_T.T)) @ S.A_T.T
    direct = [[np.sum(d[i:i + 5, j:j + 5] * k) for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(y, direct, rtol=1e-12)


@pytest.mark.parametrize("h, w, dtype", [(1, 1, np.float64), (5, 4, np.float64),
                                         (7, 9, np.float64), (6, 11, np.float32)])
@pytest.mark.parametrize("top, left, extra", [(0, 0, 0), (2, 2, 0), (3, 1, 1), (-1, 2, -1)])
def test_compiled_transforms_match_their_matrix_references(h, w, dtype, top, left, extra):
    """The input transform (F(4×4, 3×3)'s, two pixels apart) on planes padded or cropped at
    either end, and the output and gradient transforms on odd and even planes."""
    rng = np.random.default_rng(0)
    ht, wt = S.tiles(h), S.tiles(w)
    x = rng.standard_normal((2, 3, 2 * ht + 4 - top + extra, 2 * wt + 4 - left + extra))
    x = x.astype(dtype)
    buf = conv_geometry.spread(x, (1, 1), ((top, -extra), (left, -extra)))
    _close(W.input_tiles(x, top, left, (ht, wt), S), W.input_tiles_reference(buf, S), dtype)
    g = rng.standard_normal((4, 2, h, w)).astype(dtype)
    _close(W.gradient_tiles(g, S), W.gradient_tiles_reference(g, S), dtype)
    tiles = rng.standard_normal((W.positions(S), 4, ht * 2 * wt)).astype(dtype)
    y = np.full((4, 2, h, w), np.nan, dtype)
    W.output_tiles(tiles, y, S)
    _close(y, W.output_tiles_reference(tiles, 2, (h, w), S), dtype)


@pytest.mark.parametrize("h, w", [(1, 1), (4, 5), (9, 6)])
def test_backward_transforms_are_the_adjoints(h, w):
    """<output_tiles(M), G> = <M, gradient_tiles(G)>, <U(K), dU> = <K, weight_from_tiles(dU)> and
    <input_tiles(X), dV> = <X, input_tiles_adjoint_reference(dV)>."""
    rng = np.random.default_rng(1)
    p, ht, wt = W.positions(S), S.tiles(h), S.tiles(w)
    for top, left, x_hw in [(2, 2, (h, w)), (0, 3, (h + 5, w + 1)), (-1, 0, (h + 1, w))]:
        x, dv = rng.standard_normal((2, 3, *x_hw)), rng.standard_normal((p, 3, ht * 2 * wt))
        v = W.input_tiles(x, top, left, (ht, wt), S)
        adjoint = W.input_tiles_adjoint_reference(dv, x.shape, top, left, (ht, wt), S)
        assert np.isclose(np.vdot(v, dv), np.vdot(x, adjoint), rtol=1e-12)
    m, g = rng.standard_normal((p, 3, 2 * ht * wt)), rng.standard_normal((3, 2, h, w))
    y = np.empty_like(g)
    W.output_tiles(m, y, S)
    assert np.isclose(np.vdot(y, g), np.vdot(m, W.gradient_tiles(g, S)), rtol=1e-12)
    k, du = rng.standard_normal((4, 5, 5, 5)), rng.standard_normal((p, 4, 5))
    assert np.isclose(np.vdot(W.transform_weight(k, S), du),
                      np.vdot(k, W.weight_from_tiles(du, S)), rtol=1e-12)


CASES = [  # x shape, out channels, pads ((top, bottom), (left, right))
    ((2, 3, 7, 9), 4, ((2, 2), (2, 2))),
    ((1, 1, 5, 5), 1, ((0, 0), (0, 0))),
    ((3, 5, 8, 6), 2, ((3, 0), (1, 4))),
    ((2, 4, 1, 8), 3, ((2, 2), (2, 2))),
    ((2, 2, 13, 5), 6, ((0, 2), (2, 0))),
]


@pytest.mark.parametrize("x_shape, out, pads, dtype",
                         [(*case, np.float64) for case in CASES]
                         + [(*CASES[i], np.float32) for i in (0, 2)])
@pytest.mark.parametrize("chunk_bytes", [conv_plan.CHUNK_BYTES, 256])
def test_convolution_matches_the_reference(winograd_5x5, monkeypatch, x_shape, out, pads, dtype,
                                           chunk_bytes):
    """Forward, input gradient and weight gradient, in whole-image pieces and in blocks of
    tile rows (small ``chunk_bytes``) on two threads."""
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((out, x_shape[1], 5, 5)).astype(dtype)
    args = ((1, 1), pads, (1, 1), 1)
    plan = conv_plan.plan_for(x.shape, w.shape, *args, x.dtype)
    assert plan.forward.scheme is S and plan.weight_grad.scheme is S
    assert "F(2×2, 5×5)" in plan.summary()
    y = K.correlate(x, w, *args)
    g = rng.standard_normal(y.shape).astype(dtype)
    assert K.correlate_gradients(x, g, w, *args) is None  # no joint pass: that is F(4×4)'s
    fast = (y, K.correlate_transpose(g, w, *args, x_shape[2:]),
            K.correlate_weight(x, g, (5, 5), *args))
    ref = (K.correlate(x, w, *args, reference=True),
           K.correlate_transpose(g, w, *args, x_shape[2:], reference=True),
           K.correlate_weight(x, g, (5, 5), *args, reference=True))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for ours, theirs, what in zip(fast, ref, ("forward", "input grad", "weight grad"),
                                  strict=True):
        assert ours.dtype == dtype
        assert_close(ours, theirs, rtol=tol, what=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, c, o, size, padding", [(4, 32, 64, 14, 2), (3, 16, 32, 8, 2),
                                                     (2, 6, 16, 14, 0), (2, 5, 7, 11, 1)])
def test_conv2d_matches_torch(winograd_5x5, dtype, n, c, o, size, padding):
    """Jarrett's second layer, a GoogLeNet 5×5 branch, LeNet-5's second layer and an odd one,
    against PyTorch: output and all three gradients."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, c, size, size))
    w = rng.standard_normal((o, c, 5, 5)) * np.sqrt(2 / (25 * c))
    assert_conv2d_matches_torch(x, w, rng.standard_normal(o), dtype, padding=padding)


@pytest.mark.parametrize("x_shape, out, padding", [((2, 3, 6, 7), 4, 2), ((1, 2, 7, 5), 3, 0)])
def test_gradients_match_central_differences(winograd_5x5, x_shape, out, padding):
    from striate.testing.gradcheck import Case, check_case

    case = Case(op="conv2d", config=f"winograd 5x5 {x_shape}",
                fn=lambda x, w, b: F.conv2d(x, w, b, padding=padding),
                make_inputs=lambda rng: (rng.standard_normal(x_shape),
                                         rng.standard_normal((out, x_shape[1], 5, 5)),
                                         rng.standard_normal(out)))
    assert check_case(case) < case.tol


def test_which_layers_take_it(monkeypatch):
    """The rules give a 5×5 stride-1 layer F(2×2, 5×5) on the same least width and work as the
    3×3 schemes, with no bound on the channels, except where the direct loops fit; every such
    layer has it among the measured candidates of both passes; a stride, dilation or groups rule
    it out."""
    weight, out_hw, pads = (64, 32, 5, 5), (14, 14), ((2, 2), (2, 2))
    dtype = np.dtype(np.float32)

    def ruled(shape, weight=weight):
        return conv_plan.rules_plan(shape, weight, (1, 1), pads, (1, 1), 1, shape[2:], dtype)

    assert ruled((2, 32, 14, 14)).forward.scheme is S  # Jarrett's second layer
    assert ruled((2, 32, 14, 14)).input_grad.scheme is S
    assert ruled((16, 192, 7, 7), (256, 192, 5, 5)).forward.scheme is S  # wide
    assert ruled((1, 32, 14, 14)).forward.algorithm == "im2col"  # 196 pixels: too little work
    assert ruled((64, 32, 3, 3)).forward.algorithm == "im2col"  # rows of 3: too narrow
    assert ruled((16, 8, 14, 14), (16, 8, 5, 5)).forward.algorithm == "direct"
    monkeypatch.setattr(st.backends.conv, "direct", False)
    conv_plan.clear_cache()
    assert ruled((16, 8, 14, 14), (16, 8, 5, 5)).forward.scheme is S
    monkeypatch.undo()

    shape = (2, 32, 14, 14)
    forwards = conv_plan.correlation_candidates(shape, weight, (1, 1), pads, (1, 1), (1, 1), 1,
                                                out_hw, dtype)
    assert _own(forwards) is not None
    assert _own(conv_plan.input_grad_candidates(shape, weight, (1, 1), pads, (1, 1), 1, out_hw,
                                                dtype)) is not None
    assert _own(conv_plan.correlation_candidates(shape, weight, (1, 1), pads, (2, 2), (1, 1), 1,
                                                 (7, 7), dtype)) is None
    assert _own(conv_plan.correlation_candidates(shape, weight, (1, 1), pads, (1, 1), (2, 2), 1,
                                                 (10, 10), dtype)) is None
    assert _own(conv_plan.correlation_candidates(shape, (64, 16, 5, 5), (1, 1), pads, (1, 1),
                                                 (1, 1), 2, out_hw, dtype)) is None
    monkeypatch.setattr(st.backends.conv, "winograd", False)
    assert _own(conv_plan.correlation_candidates(shape, weight, (1, 1), pads, (1, 1), (1, 1), 1,
                                                 out_hw, dtype)) is None
    assert ruled(shape).forward.algorithm == "im2col"
    monkeypatch.undo()
    timed = conv_tuning._measure(shape, weight, ((1, 1), pads, (1, 1), 1), out_hw, dtype)
    assert set(timed) == {"forward", "input_grad", "weight_grad", "together"}
    assert "winograd F(2×2, 5×5)" in " ".join(
        conv_tuning.timings[(shape, weight, (1, 1), pads, (1, 1), 1, out_hw, dtype)]["forward"])
