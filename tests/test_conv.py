"""conv2d / conv_transpose2d and their layers against PyTorch; fast vs reference kernels; errors."""

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from plan_fixtures import fresh_plans  # noqa: F401 - autouse, for this module
from striate.kernels import conv as K
from striate.kernels import conv_geometry, conv_im2col, conv_plan

TF = torch.nn.functional
# torch's own note that 'same' with an even kernel copies the input: not our concern here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

# (input shape, weight shape, keyword arguments): torch's conv2d takes the same ones.
CONV = [
    ((2, 3, 8, 8), (4, 3, 3, 3), {}),
    ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": 1}),
    ((1, 1, 28, 28), (6, 1, 5, 5), {}),
    ((2, 2, 7, 9), (3, 2, 3, 2), {"padding": (1, 0)}),
    ((2, 2, 9, 7), (3, 2, 2, 4), {"padding": (2, 1), "stride": (1, 2)}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2}),
    ((2, 3, 10, 10), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 11, 8), (2, 3, 3, 3), {"stride": 3, "padding": 1}),
    ((1, 2, 8, 11), (3, 2, 2, 3), {"stride": (3, 2), "padding": (0, 2)}),
    ((2, 2, 9, 9), (3, 2, 3, 3), {"dilation": 2}),
    ((2, 2, 9, 9), (3, 2, 3, 3), {"dilation": 2, "padding": 2}),
    ((2, 2, 10, 9), (3, 2, 3, 2), {"dilation": (2, 3), "stride": 2, "padding": 1}),
    ((2, 4, 7, 7), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 6, 7, 7), (6, 2, 3, 3), {"groups": 3, "stride": 2}),
    ((2, 4, 8, 8), (4, 1, 3, 3), {"groups": 4, "padding": 1}),
    ((2, 3, 8, 7), (6, 1, 3, 3), {"groups": 3, "padding": 1, "stride": 2}),
    ((1, 4, 6, 6), (8, 1, 2, 2), {"groups": 4, "dilation": 2}),
    ((1, 3, 5, 5), (2, 3, 1, 1), {}),
    ((2, 3, 5, 5), (2, 3, 1, 1), {"padding": 1}),
    ((2, 3, 5, 5), (2, 3, 1, 1), {"stride": 2}),
    ((2, 2, 6, 6), (3, 2, 6, 6), {}),
    ((2, 2, 4, 4), (3, 2, 3, 3), {"padding": 3}),
    ((2, 2, 7, 6), (3, 2, 4, 2), {"padding": "same"}),
    ((2, 2, 7, 6), (3, 2, 3, 3), {"padding": "same"}),
    ((2, 2, 8, 8), (3, 2, 2, 3), {"padding": "same", "dilation": 2}),
    ((2, 4, 6, 6), (4, 2, 4, 4), {"padding": "same", "groups": 2}),
    ((2, 3, 7, 7), (2, 3, 3, 3), {"padding": "valid"}),
    ((3, 5, 5), (2, 3, 3, 3), {"padding": 1}),
    ((4, 16, 12, 12), (16, 16, 3, 3), {"padding": 1}),
    ((2, 16, 12, 12), (32, 16, 3, 3), {"padding": 1, "stride": 2}),
    ((2, 16, 12, 12), (32, 16, 1, 1), {"stride": 2}),
    ((2, 6, 9, 8), (5, 6, 1, 1), {}),
    ((1, 4, 16, 9), (12, 4, 1, 1), {"dilation": 2}),
]

# (input shape, weight shape (in, out/groups, kh, kw), keyword arguments)
CONVT = [
    ((2, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 2, 3, 4), (2, 3, 3, 2), {"stride": (3, 2), "output_padding": (2, 1)}),
    ((2, 2, 4, 4), (2, 2, 4, 4), {"stride": 2, "padding": 1}),
    ((2, 2, 4, 4), (2, 3, 3, 3), {"dilation": 2, "padding": 1}),
    ((2, 2, 4, 4), (2, 3, 3, 3), {"dilation": 2, "output_padding": 1}),
    ((2, 4, 5, 5), (4, 3, 3, 3), {"groups": 2, "stride": 2}),
    ((2, 4, 5, 5), (4, 1, 3, 3), {"groups": 4, "stride": 2, "padding": 1,
                                  "output_padding": 1}),
    ((2, 2, 5, 5), (2, 3, 1, 1), {"padding": 1}),
    ((2, 3, 3, 3), (3, 2, 2, 2), {"padding": (1, 0), "stride": (1, 2)}),
    ((2, 4, 3), (2, 3, 3, 3), {"stride": 2}),
    ((4, 16, 6, 6), (16, 8, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
]


@pytest.fixture(params=["default", "im2col", "measured"])
def conv_path(request, monkeypatch):
    """Run a comparison on the paths chosen by shape (direct loops, Winograd or im2col), then
    with every convolution forced onto im2col, then on the paths measured fastest
    (``backends.conv.benchmark``), so each fast path keeps its checks."""
    if request.param == "measured":
        monkeypatch.setattr(st.backends.conv, "benchmark", True)
    if request.param == "im2col":
        monkeypatch.setattr(st.backends.conv, "direct", False)
        monkeypatch.setattr(st.backends.conv, "winograd", False)


def _ids(table):
    return [f"{x}-{w}-{kw}" for x, w, kw in table]


def _compare(ours_fn, torch_fn, x_shape, w_shape, n_out, kw, dtype, seed=0):
    """Forward and the input, weight and bias gradients, against torch."""
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, (n_out,)))
    xs, ws, bs = (st.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (to_torch(a, requires_grad=True) for a in (x, w, b))
    y, yt = ours_fn(xs, ws, bs, **kw), torch_fn(xt, wt, bt, **kw)
    assert_close(y, yt, what="forward")
    assert y.dtype == dtype
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    y.backward(g)
    yt.backward(to_torch(g))
    for ours, theirs, name in ((xs, xt, "input"), (ws, wt, "weight"), (bs, bt, "bias")):
        assert ours.grad.dtype == dtype
        assert_close(ours.grad, theirs.grad, what=f"{name} grad")


@pytest.mark.parametrize("x_shape, w_shape, kw", CONV, ids=_ids(CONV))
def test_conv2d_matches_torch_float64(conv_path, x_shape, w_shape, kw):
    _compare(F.conv2d, TF.conv2d, x_shape, w_shape, w_shape[0], kw, np.float64)


@pytest.mark.parametrize("x_shape, w_shape, kw", CONV[::3], ids=_ids(CONV[::3]))
def test_conv2d_matches_torch_float32(conv_path, x_shape, w_shape, kw):
    _compare(F.conv2d, TF.conv2d, x_shape, w_shape, w_shape[0], kw, np.float32)


def _torch_conv2d_relu(x, w, b, **kw):
    return TF.relu(TF.conv2d(x, w, b, **kw))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, kw", CONV, ids=_ids(CONV))
def test_conv2d_relu_matches_torch(conv_path, x_shape, w_shape, kw, dtype):
    """relu(conv2d(...)) as one op (the ReLU in the kernels' epilogue, its mask at the start of
    the backward) on every kernel path: output and the three gradients."""
    from striate.ops.conv import conv2d_relu

    _compare(conv2d_relu, _torch_conv2d_relu, x_shape, w_shape, w_shape[0], kw, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, kw", CONV, ids=_ids(CONV))
def test_conv2d_inference_epilogue_matches_torch(conv_path, x_shape, w_shape, kw, dtype):
    """conv2d_inference = max(conv2d(x, w)·s + t + r, 0) per output channel, as PyTorch
    computes it step by step, on every kernel path (each applies the epilogue to its own
    pieces), with and without the scale, the residual r and the rectifier."""
    from striate.ops.conv import conv2d_inference

    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    s, t = rng.uniform(0.5, 2, w_shape[0]).astype(dtype), rng.standard_normal(w_shape[0])
    t = t.astype(dtype)
    plain = TF.conv2d(to_torch(x), to_torch(w), **kw)
    channel = (-1, 1, 1) if plain.dim() == 3 else (1, -1, 1, 1)
    r = rng.standard_normal(tuple(plain.shape)).astype(dtype)
    with st.no_grad():
        for scale, relu, residual in ((None, False, None), (s, False, None), (s, True, None),
                                      (None, True, None), (s, True, r), (None, False, r)):
            expected = plain * (1 if scale is None else to_torch(scale).reshape(channel))
            expected = expected + to_torch(t).reshape(channel)
            expected = expected if residual is None else expected + to_torch(residual)
            expected = TF.relu(expected) if relu else expected
            y = conv2d_inference(st.tensor(x), st.tensor(w), st.tensor(t), scale=scale,
                                 residual=None if residual is None else st.tensor(residual),
                                 relu=relu, **kw)
            assert y.dtype == dtype
            assert_close(y, expected, what=f"scale {scale is not None}, relu {relu}, "
                                           f"residual {residual is not None}")


def test_conv2d_inference_refuses_gradients_and_bad_scales():
    from striate.ops.conv import conv2d_inference

    x, w = st.randn(1, 2, 5, 5), st.randn(3, 2, 3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no backward"):
        conv2d_inference(x, w, relu=True)
    with st.no_grad():
        with pytest.raises(ValueError, match=r"scale of shape \(3,\)"):
            conv2d_inference(x, w, scale=np.ones(2, np.float32))
        with pytest.raises(ValueError, match=r"residual of the output's shape \(1, 3, 3, 3\)"):
            conv2d_inference(x, w, residual=st.randn(1, 3, 5, 5))
        with pytest.raises(TypeError, match="residual has dtype float64"):
            conv2d_inference(x, w, residual=np.zeros((1, 3, 3, 3)))


@pytest.mark.parametrize("x_shape, w_shape, kw", CONVT, ids=_ids(CONVT))
def test_conv_transpose2d_matches_torch_float64(conv_path, x_shape, w_shape, kw):
    groups = kw.get("groups", 1)
    _compare(F.conv_transpose2d, TF.conv_transpose2d, x_shape, w_shape, w_shape[1] * groups, kw,
             np.float64)


@pytest.mark.parametrize("x_shape, w_shape, kw", CONVT[::2], ids=_ids(CONVT[::2]))
def test_conv_transpose2d_matches_torch_float32(conv_path, x_shape, w_shape, kw):
    groups = kw.get("groups", 1)
    _compare(F.conv_transpose2d, TF.conv_transpose2d, x_shape, w_shape, w_shape[1] * groups, kw,
             np.float32)


def test_conv2d_without_bias_and_with_only_weight_grad():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    ws = st.tensor(w, requires_grad=True)
    wt = to_torch(w, requires_grad=True)
    F.conv2d(st.tensor(x), ws, stride=2).sum().backward()
    TF.conv2d(to_torch(x), wt, stride=2).sum().backward()
    assert_close(ws.grad, wt.grad, what="weight grad")


def test_conv_input_gradient_is_the_transposed_convolution():
    """conv2d's input gradient equals conv_transpose2d of the output gradient (the adjoint)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((6, 2, 3, 3))
    xs = st.tensor(x, requires_grad=True)
    y = F.conv2d(xs, st.tensor(w), stride=2, padding=1, groups=2)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    z = F.conv_transpose2d(st.tensor(g), st.tensor(w), stride=2, padding=1, groups=2)
    assert_close(xs.grad, z.data)
    # ⟨conv(x), g⟩ = ⟨x, conv_transpose(g)⟩
    assert np.isclose((y.data * g).sum(), (x * z.data).sum(), rtol=1e-12)


# --- the two kernel implementations agree ----------------------------------------------------

KERNEL = [
    ((2, 3, 9, 8), (4, 3, 3, 2), (1, 1), ((1, 1), (0, 0)), (1, 1), 1),
    ((2, 4, 10, 9), (6, 2, 3, 3), (2, 3), ((1, 2), (0, 1)), (1, 2), 2),
    ((1, 3, 7, 7), (3, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (2, 2), 3),
    ((2, 2, 6, 6), (4, 2, 1, 1), (3, 1), ((0, 0), (0, 0)), (1, 1), 1),
    # O·s_h·s_w <= C: the fast transposed path is the seeds' full correlation too
    ((2, 6, 8, 7), (4, 3, 3, 3), (1, 1), ((1, 2), (2, 0)), (2, 1), 2),
    ((2, 4, 6, 6), (4, 4, 1, 1), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    # 1×1 layers on planes of at least POINTWISE_MIN_PIXELS: one GEMM per image (one image:
    # the chunks cut its rows), narrowing and widening
    ((1, 5, 12, 11), (3, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((3, 4, 9, 8), (7, 4, 1, 1), (1, 1), ((0, 0), (0, 0)), (2, 2), 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation, groups", KERNEL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_kernels_match_reference(conv_path, x_shape, w_shape, stride, pads, dilation, groups,
                                      dtype):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    runs = []
    for reference in (False, True):
        y = K.correlate(x, w, stride, pads, dilation, groups, reference=reference)
        g = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
        gx = K.correlate_transpose(g, w, stride, pads, dilation, groups, x_shape[2:],
                                   reference=reference)
        gw = K.correlate_weight(x, g, w_shape[2:], stride, pads, dilation, groups,
                                reference=reference)
        runs.append((y, gx, gw))
    for fast, ref, what in zip(runs[0], runs[1], ("forward", "input grad", "weight grad"),
                               strict=True):
        assert fast.dtype == dtype
        assert_close(fast, ref, rtol=1e-12 if dtype == np.float64 else 1e-5, what=what)


@pytest.mark.parametrize("chunk_bytes, workers", [(1, 2), (300, 3), (4096, 1), (1 << 20, 4)])
def test_chunks_do_not_change_the_result(conv_path, monkeypatch, chunk_bytes, workers):
    """Pieces of one output row, of a few rows, of whole images, on 1 to 4 threads (the fast
    paths' cache blocking and parallel split) give the reference's result."""
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(conv_plan, "PARALLEL_MIN_BYTES", 1)  # split even these small tests' work
    monkeypatch.setattr(st.backends.cpu, "num_threads", workers)
    conv_plan.clear_cache()
    for x_shape, w_shape, stride, pads, dilation, groups in KERNEL:
        test_fast_kernels_match_reference(conv_path, x_shape, w_shape, stride, pads, dilation,
                                          groups, np.float64)


@pytest.mark.parametrize("n, rows, row_values, split_rows", [
    (128, 32, 144 * 32, True), (8, 8, 576 * 8, True), (1, 32, 144 * 32, True),
    (1, 224, 576 * 224, True), (3, 5, 10, True), (1, 32, 144 * 32, False), (5, 7, 1 << 20, True)])
def test_chunks_cover_the_work_once_and_use_every_worker(monkeypatch, n, rows, row_values,
                                                         split_rows):
    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    parts = conv_plan.chunks(n, rows, row_values, np.dtype(np.float32), split_rows=split_rows)
    covered = np.zeros((n, rows), int)
    for images, block in parts:
        covered[images, block] += 1
        if not split_rows:
            assert (block.start, block.stop) == (0, rows)
    assert (covered == 1).all()
    if split_rows and n * rows * row_values * 4 >= 2 * conv_plan.PARALLEL_MIN_BYTES:
        assert len(parts) >= 2  # both threads get work, even for a single image
    if n * rows * row_values * 4 < 2 * conv_plan.PARALLEL_MIN_BYTES:
        assert len(parts) == 1  # too little work to be worth a second thread
    for images, block in parts:  # near CHUNK_BYTES unless one output row is already larger
        size = (images.stop - images.start) * (block.stop - block.start) * row_values * 4
        assert size <= max(conv_plan.CHUNK_BYTES, row_values * 4)


def test_spread_dilates_pads_and_crops():
    x = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    buf = conv_geometry.spread(x, (2, 1), ((1, -1), (-1, 2)))  # (C, N, Hb, Wb)
    # rows land at 1 + 2i (row 1 falls off the bottom), columns at j − 1 (column 0 falls off)
    expected = np.array([[0, 0, 0, 0], [2, 3, 0, 0], [0, 0, 0, 0]], dtype=float)
    assert buf.shape == (1, 1, 3, 4)
    np.testing.assert_array_equal(buf[0, 0], expected)


# --- layers ---------------------------------------------------------------------------------

LAYERS = [
    (nn.Conv2d, torch.nn.Conv2d, (3, 6, 3), {}),
    (nn.Conv2d, torch.nn.Conv2d, (4, 8, (3, 2)), {"stride": 2, "padding": (1, 0), "groups": 2}),
    (nn.Conv2d, torch.nn.Conv2d, (4, 4, 3), {"padding": "same", "dilation": 2, "bias": False}),
    (nn.Conv2d, torch.nn.Conv2d, (4, 8, 3), {"groups": 4, "padding": "valid"}),
    (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (3, 6, 3), {}),
    (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (4, 6, (3, 2)),
     {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (2, 3, 3),
     {"dilation": 2, "bias": False}),
]


@pytest.mark.parametrize("ours_cls, torch_cls, args, kw", LAYERS,
                         ids=[f"{o.__name__}-{a}-{k}" for o, _, a, k in LAYERS])
def test_layers_match_torch(ours_cls, torch_cls, args, kw):
    ours, theirs = ours_cls(*args, **kw), torch_cls(*args, **kw).double()
    assert repr(ours) == repr(theirs)
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        assert value.shape == tuple(theirs_state[key].shape) and value.dtype == np.float32
    ours.double().load_state_dict(theirs_state)
    x = np.random.default_rng(5).standard_normal((2, args[0], 7, 6))
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    y, yt = ours(xs), theirs(xt)
    assert_close(y, yt, what="forward")
    y.sum().backward()
    yt.sum().backward()
    assert_close(xs.grad, xt.grad, what="input grad")
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters(),
                                  strict=True):
        assert_close(p.grad, pt.grad, what=f"{name} grad")


def test_conv_transpose2d_output_size_like_torch():
    ours = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1).double()
    ours.double().load_state_dict(theirs.state_dict())
    x = np.random.default_rng(6).standard_normal((1, 2, 4, 5))
    for size in [(10, 13), (12, 15), (1, 3, 11, 14)]:
        assert_close(ours(st.tensor(x), output_size=size), theirs(to_torch(x), output_size=size))
    with pytest.raises(ValueError, match="ConvTranspose2d"):
        ours(st.tensor(x), output_size=(13, 13))


@pytest.mark.parametrize("cls, args", [(nn.Conv2d, (8, 32, 3)), (nn.ConvTranspose2d, (32, 8, 3))])
def test_default_init_is_uniform_with_pytorchs_fan_in(cls, args):
    layer = cls(*args, generator=np.random.default_rng(0))
    fan_in = layer.weight.shape[1] * 9  # ConvTranspose2d: out/groups · kh · kw, as PyTorch
    for p in (layer.weight.data, layer.bias.data):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.9 * bound
        assert abs(p.std() - bound / np.sqrt(3)) < 0.1 * bound
    again = cls(*args, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)


# --- bad input --------------------------------------------------------------------------------

x4 = st.zeros(2, 4, 6, 6)
w4 = st.zeros(6, 4, 3, 3)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv2d(st.zeros(4, 6), w4), ValueError, ["conv2d", "input", "(4, 6)"]),
    (lambda: F.conv2d(x4, st.zeros(6, 4, 3)), ValueError, ["conv2d", "weight", "(6, 4, 3)"]),
    (lambda: F.conv2d(x4, st.zeros(6, 3, 3, 3)), ValueError, ["conv2d", "3", "4", "(2, 4, 6, 6)"]),
    (lambda: F.conv2d(x4, st.zeros(6, 2, 3, 3), groups=3), ValueError,
     ["conv2d", "groups", "(6, 2, 3, 3)"]),
    (lambda: F.conv2d(x4, st.zeros(5, 2, 3, 3), groups=2), ValueError, ["conv2d", "divisible"]),
    (lambda: F.conv2d(x4, st.zeros(6, 4, 7, 3)), ValueError,
     ["conv2d", "(7, 3)", "(6, 6)", "(2, 4, 6, 6)"]),
    (lambda: F.conv2d(x4, w4, dilation=3), ValueError, ["conv2d", "(7, 7)", "(6, 6)"]),
    (lambda: F.conv2d(x4, w4, padding=-1), ValueError, ["conv2d", "padding"]),
    (lambda: F.conv2d(x4, w4, stride=0), ValueError, ["conv2d", "stride"]),
    (lambda: F.conv2d(x4, w4, dilation=(1, 0)), ValueError, ["conv2d", "dilation"]),
    (lambda: F.conv2d(x4, w4, groups=0), ValueError, ["conv2d", "groups"]),
    (lambda: F.conv2d(x4, w4, stride=(1.5, 1)), TypeError, ["conv2d", "stride"]),
    (lambda: F.conv2d(x4, w4, padding="full"), ValueError, ["conv2d", "'full'"]),
    (lambda: F.conv2d(x4, w4, padding="same", stride=2), ValueError, ["conv2d", "same"]),
    (lambda: F.conv2d(x4, w4, st.zeros(5)), ValueError, ["conv2d", "bias", "(6,)", "(5,)"]),
    (lambda: F.conv2d(st.zeros(2, 4, 6, 6, dtype=st.int64), w4), TypeError, ["conv2d"]),
    (lambda: F.conv2d(x4, st.zeros(6, 4, 3, 3, dtype=st.float64)), TypeError, ["conv2d"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(3, 2, 3, 3)), ValueError,
     ["conv_transpose2d", "3", "4"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(4, 2, 3, 3), groups=3), ValueError,
     ["conv_transpose2d", "divisible"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(4, 2, 3, 3), stride=2, output_padding=2),
     ValueError, ["conv_transpose2d", "output_padding"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(4, 2, 3, 3), padding=4), ValueError,
     ["conv_transpose2d", "output size"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(4, 2, 3, 3), st.zeros(4)), ValueError,
     ["conv_transpose2d", "bias", "(2,)"]),
    (lambda: F.conv_transpose2d(x4, st.zeros(4, 2, 3, 3), padding="same"), ValueError,
     ["conv_transpose2d", "padding"]),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, ["Conv2d", "divisible"]),
    (lambda: nn.Conv2d(4, 6, 3, padding_mode="reflect"), ValueError, ["Conv2d", "reflect"]),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), ValueError, ["Conv2d", "same"]),
    (lambda: nn.Conv2d(4, 6, 0), ValueError, ["Conv2d", "kernel_size"]),
    (lambda: nn.ConvTranspose2d(4, 6, 3, padding="same"), ValueError, ["ConvTranspose2d"]),
    (lambda: nn.Conv2d(3, 6, 3)(x4), ValueError, ["conv2d", "3", "4"]),
])
def test_bad_input_is_refused_with_a_clear_message(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


def test_argument_checks_are_remembered_per_shape_dtype_and_setting():
    """conv2d keeps each checked combination's answer: a bad call after a good one with the
    same weight is still refused, and settings given as lists (not hashable) still work."""
    w = st.zeros(6, 4, 3, 3)
    good = F.conv2d(x4, w, padding=1)
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(st.zeros(2, 3, 6, 6), w, padding=1)
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(st.zeros(2, 4, 6, 6, dtype=st.float64), w, padding=1)
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(x4, w, padding=[1, -1])
    assert F.conv2d(x4, w, padding=[1, 1], stride=[1, 1]).shape == good.shape
    assert F.conv2d(st.zeros(2, 4, 8, 8), w, padding=1).shape == (2, 6, 8, 8)


@pytest.mark.parametrize("x_shape, w_shape, kw", [((0, 3, 8, 8), (4, 3, 3, 3), {"padding": 1}),
                                                  ((0, 16, 32, 32), (16, 16, 3, 3), {"padding": 1}),
                                                  ((0, 3, 9, 9), (4, 3, 3, 3), {"stride": 2})])
def test_conv2d_of_an_empty_batch_like_torch(conv_path, x_shape, w_shape, kw):
    """An empty batch gives an empty output and zero weight and bias gradients, as in PyTorch,
    on every path (direct loops, Winograd, im2col)."""
    _compare(F.conv2d, TF.conv2d, x_shape, w_shape, w_shape[0], kw, np.float64)


@pytest.mark.parametrize("x_shape, w_shape, kw, kept", [
    ((1, 4, 7, 9), (6, 2, 3, 2), {"groups": 2, "stride": (2, 1), "padding": 1}, True),
    ((2, 3, 9, 8), (5, 3, 3, 3), {"dilation": 2, "padding": (2, 1)}, True),
    ((64, 8, 16, 16), (8, 8, 3, 3), {"stride": 2, "padding": 1}, False),  # many pieces
])
def test_weight_gradient_reuses_the_forward_windows_where_one_piece(monkeypatch, x_shape,
                                                                    w_shape, kw, kept):
    """Where a convolution's im2col matrix is one piece, the forward keeps it and the weight
    gradient reads it rather than copying the windows again: the same gradients as PyTorch's,
    and one im2col per forward and backward instead of two."""
    monkeypatch.setattr(st.backends.conv, "direct", False)
    monkeypatch.setattr(st.backends.conv, "winograd", False)
    copies = []
    im2col = conv_im2col.im2col
    monkeypatch.setattr(conv_im2col, "im2col", lambda *a: copies.append(1) or im2col(*a))
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    xs, ws = st.tensor(x), st.tensor(w, requires_grad=True)
    xt, wt = to_torch(x), to_torch(w, requires_grad=True)
    y, yt = F.conv2d(xs, ws, **kw), TF.conv2d(xt, wt, **kw)
    forward = len(copies)
    up = rng.standard_normal(y.shape)
    y.backward(st.tensor(up))
    yt.backward(to_torch(up))
    assert_close(ws.grad, wt.grad, rtol=1e-10, what="weight gradient")
    assert (len(copies) == forward) == kept  # backward copied no windows where they were kept


@pytest.mark.parametrize("x_shape, kept", [((1, 16, 16, 16), True), ((2, 8, 11, 13), True),
                                           ((32, 16, 32, 32), False)])  # the last: many pieces
def test_winograd_weight_gradient_reuses_the_forward_tiles_where_one_piece(monkeypatch, x_shape,
                                                                           kept):
    """The same reuse on Winograd's path: the forward's input tiles V serve the weight gradient
    where they are one piece (one input transform per forward and backward instead of two)."""
    from striate.kernels import winograd

    if not winograd.available():
        pytest.skip("needs Numba")
    monkeypatch.setattr(st.backends.conv, "direct", False)
    transforms = []
    input_tiles = winograd.input_tiles
    monkeypatch.setattr(winograd, "input_tiles", lambda *a: transforms.append(1) or
                        input_tiles(*a))
    rng = np.random.default_rng(4)
    c = x_shape[1]
    x, w = rng.standard_normal(x_shape), rng.standard_normal((c, c, 3, 3))
    ws, wt = st.tensor(w, requires_grad=True), to_torch(w, requires_grad=True)
    y, yt = F.conv2d(st.tensor(x), ws, padding=1), TF.conv2d(to_torch(x), wt, padding=1)
    forward = len(transforms)
    assert forward >= 1  # Winograd's path
    up = rng.standard_normal(y.shape)
    y.backward(st.tensor(up))
    yt.backward(to_torch(up))
    assert_close(ws.grad, wt.grad, rtol=1e-9, what="weight gradient")
    assert (len(transforms) == forward) == kept


# --- the convolution plan ---------------------------------------------------------------------


def test_plan_is_readable_cached_and_follows_the_settings(monkeypatch):
    """One plan per geometry and settings, with a readable repr; a change of setting takes
    effect on the next call, while the environment is read only at import."""
    shape, weight = (128, 16, 32, 32), (16, 16, 3, 3)
    plan = st.backends.conv_plan(shape, weight, padding=1)
    assert plan is st.backends.conv_plan(shape, weight, padding=1)
    if not st.backends.conv.winograd or not conv_plan.jit.available():
        pytest.skip("needs Winograd")
    assert plan.forward.algorithm == "winograd" and plan.together
    assert "winograd F(4×4, 3×3)" in repr(plan) and "together" in plan.summary()
    monkeypatch.setenv("STRIATE_WINOGRAD", "0")  # read at import only
    assert st.backends.conv_plan(shape, weight, padding=1) is plan
    with st.backends.flags(winograd=False):
        off = st.backends.conv_plan(shape, weight, padding=1)
        assert off.forward.algorithm == off.weight_grad.algorithm == "direct"  # 16 channels
    with st.backends.flags(winograd_f4=False):
        assert st.backends.conv_plan(shape, weight, padding=1).forward.scheme.OUT == 2
    assert st.backends.conv_plan(shape, weight, padding=1) is plan


def test_the_backward_runs_the_forward_s_plan(monkeypatch):
    """The forward stores its plan on the op's context; the backward runs it even when the
    settings change in between (it decides nothing)."""
    rng = np.random.default_rng(0)
    x = st.tensor(rng.standard_normal((2, 3, 12, 12)), requires_grad=True)
    w = st.tensor(rng.standard_normal((8, 3, 3, 3)), requires_grad=True)
    with st.backends.flags(direct=False, winograd=False):
        y = F.conv2d(x, w, padding=1)
    plan = y._ctx.plan
    assert plan.forward.algorithm == "im2col"
    if conv_plan.jit.available():  # the settings now would choose the direct loops
        now = st.backends.conv_plan((2, 3, 12, 12), (8, 3, 3, 3), padding=1, dtype=np.float64)
        assert now.weight_grad.algorithm == "direct"
    taken = []
    weight_gradient = conv_im2col.weight_gradient
    monkeypatch.setattr(conv_im2col, "weight_gradient",
                        lambda *a, **k: taken.append(1) or weight_gradient(*a, **k))
    y.sum().backward()  # under the default settings, which would choose otherwise
    assert taken == [1]
