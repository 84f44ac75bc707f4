"""The direct correlation for few channels: forward, input and weight gradients (the input
gradient of a widening layer by the loops' adjoint) against the reference kernels, through conv2d
against PyTorch and central differences, and where each is used."""

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from helpers import assert_close, assert_conv2d_matches_torch
from plan_fixtures import fresh_plans  # noqa: F401 - autouse, for this module
from striate.kernels import conv as K
from striate.kernels import conv_direct, conv_plan, direct
from striate.kernels.conv_plan import correlation_algorithm

pytestmark = pytest.mark.skipif(not direct.available(), reason="Numba is not installed")


def method(x, weight_shape, upsample=(1, 1), stride=(1, 1), dilation=(1, 1), groups=1,
           width=None):
    return correlation_algorithm(x.shape, weight_shape, upsample, stride, dilation, groups,
                                 None if width is None else (x.shape[2], width), x.dtype)


CASES = [  # x shape, weight shape, pads ((top, bottom), (left, right))
    ((3, 1, 28, 28), (6, 1, 5, 5), ((2, 2), (2, 2))),  # LeNet's conv1
    ((2, 6, 14, 14), (16, 6, 5, 5), ((0, 0), (0, 0))),  # LeNet's conv2
    ((5, 3, 9, 7), (5, 3, 3, 2), ((1, 0), (2, 1))),  # odd out channels, non-square, uneven pads
    ((1, 2, 5, 11), (3, 2, 1, 4), ((0, 0), (0, 3))),  # a one-row kernel
    ((2, 4, 1, 6), (3, 4, 3, 3), ((1, 1), (1, 1))),  # a one-row plane
    ((4, 16, 10, 10), (7, 16, 5, 5), ((4, 4), (4, 4))),  # pads as wide as the kernel
    ((2, 2, 6, 5), (1, 2, 2, 2), ((0, 0), (0, 0))),  # a single output channel
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, pads", CASES)
@pytest.mark.parametrize("workers", [1, 2])
def test_direct_convolution_matches_the_reference(monkeypatch, x_shape, w_shape, pads, dtype,
                                                  workers):
    """Forward, input gradient and weight gradient, on one thread and split over two."""
    monkeypatch.setattr(st.backends.cpu, "num_threads", workers)
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", 1024)  # several chunks even for these sizes
    conv_plan.clear_cache()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    args = ((1, 1), pads, (1, 1), 1)
    assert method(x, w.shape) == "direct"
    y = K.correlate(x, w, *args)
    g = rng.standard_normal(y.shape).astype(dtype)
    fast = (y, K.correlate_transpose(g, w, *args, x_shape[2:]),
            K.correlate_weight(x, g, w_shape[2:], *args))
    ref = (K.correlate(x, w, *args, reference=True),
           K.correlate_transpose(g, w, *args, x_shape[2:], reference=True),
           K.correlate_weight(x, g, w_shape[2:], *args, reference=True))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for ours, theirs, what in zip(fast, ref, ("forward", "input grad", "weight grad"), strict=True):
        assert ours.dtype == dtype
        assert_close(ours, theirs, rtol=tol, what=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, pads", CASES)
@pytest.mark.parametrize("scaled, relu, residual", [(False, False, False), (False, True, False),
                                                    (True, True, False), (True, True, True)])
def test_direct_epilogue_matches_the_reference(x_shape, w_shape, pads, dtype, scaled, relu,
                                               residual):
    """The direct kernel's own epilogue (scale, shift and rectifier as it writes each row; a
    residual in a pass after) equals the reference's, NaN kept through the rectifier."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(dtype)
    x[0, 0, 0, :2] = np.nan
    w = rng.standard_normal(w_shape).astype(dtype)
    o = w_shape[0]
    scale = rng.standard_normal(o).astype(dtype) if scaled else None
    shift = rng.standard_normal(o).astype(dtype)
    args = ((1, 1), pads, (1, 1), 1)
    y_shape = K.correlate(x, w, *args).shape
    r = rng.standard_normal(y_shape).astype(dtype) if residual else None
    kw = {"bias": shift, "scale": scale, "relu": relu, "residual": r}
    fast, ref = K.correlate(x, w, *args, **kw), K.correlate(x, w, *args, reference=True, **kw)
    assert np.isnan(fast).any() and (np.isnan(fast) == np.isnan(ref)).all()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert_close(np.nan_to_num(fast), np.nan_to_num(ref), rtol=tol, what="epilogue")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lenet_layer_through_direct_matches_torch(dtype):
    """LeNet's conv2 (6 → 16 channels, 5×5), which takes the direct loops by default, against
    PyTorch: output and all three gradients."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((5, 6, 14, 14)), rng.standard_normal((16, 6, 5, 5)) * 0.1
    b = rng.standard_normal(16)
    assert method(x, w.shape, width=10) == "direct"
    assert_conv2d_matches_torch(x, w, b, dtype)


def test_which_convolutions_take_the_direct_loops(monkeypatch):
    x = np.zeros((1, 3, 32, 32), np.float32)

    def taken(weight_shape, upsample=(1, 1), stride=(1, 1), dilation=(1, 1), groups=1,
              width=32):
        return method(x, weight_shape, upsample, stride, dilation, groups, width)

    assert taken((6, 1, 5, 5)) == taken((16, 6, 5, 5)) == "direct"  # LeNet
    assert taken((16, 3, 3, 3)) == "direct"  # ResNet's stem: ahead of Winograd
    assert taken((16, 16, 3, 3)) == "winograd"  # 16 input channels: Winograd first
    assert taken((16, 16, 3, 3), width=2) == "direct"  # too narrow for Winograd
    assert taken((32, 16, 5, 5)) == "winograd"  # too many channels: F(2×2, 5×5)
    assert taken((16, 16, 1, 1)) == "pointwise"  # 1×1: a plain GEMM per image
    assert taken((16, 16, 1, 1), width=1) == "im2col"  # a small plane: one GEMM over the batch
    assert taken((16, 3, 3, 3), stride=(2, 2)) == "im2col"
    assert taken((16, 3, 3, 3), upsample=(2, 2)) == "im2col"
    assert taken((16, 3, 3, 3), dilation=(2, 2)) == "im2col"
    assert taken((16, 1, 3, 3), groups=3) == "depthwise"  # one input channel per group
    assert taken((16, 1, 3, 3), groups=3, stride=(2, 2)) == "depthwise"
    assert taken((16, 1, 3, 3), groups=3, upsample=(2, 2)) == "im2col"
    assert taken((16, 2, 3, 3), groups=3) == "im2col"  # grouped, not depthwise
    with st.backends.flags(direct=False):
        assert taken((16, 1, 3, 3), groups=3) == "im2col"
        assert taken((16, 3, 3, 3)) == "winograd"
        assert taken((6, 1, 5, 5)) == "winograd"  # F(2×2, 5×5)


@pytest.mark.parametrize("x_shape, w_shape, padding", [((2, 3, 5, 7), (4, 3, 3, 2), 1),
                                                       ((1, 2, 6, 4), (3, 2, 2, 3), 0),
                                                       ((2, 1, 7, 6), (5, 1, 5, 5), 2)])
def test_direct_gradients_match_central_differences(x_shape, w_shape, padding):
    """Float64 central differences through conv2d on the direct loops."""
    from striate.testing.gradcheck import Case, check_case

    x = np.zeros(x_shape)
    out_width = x_shape[3] + 2 * padding - w_shape[3] + 1
    assert method(x, w_shape, width=out_width) == "direct"
    case = Case(op="conv2d", config=f"direct {x_shape} {w_shape}",
                fn=lambda x, w, b: F.conv2d(x, w, b, padding=padding),
                make_inputs=lambda rng: (rng.standard_normal(x_shape),
                                         rng.standard_normal(w_shape),
                                         rng.standard_normal(w_shape[0])))
    assert check_case(case) < case.tol


def test_widening_layers_take_the_direct_adjoint_for_their_input_gradient(monkeypatch):
    """A stride-1 layer with few channels that widens (O > C) gets its input gradient from
    ``direct.transpose_kernel``; one that narrows correlates with the rotated kernel instead, and
    so does every layer with ``backends.conv.direct`` off."""
    taken = []
    adjoint = conv_direct.transpose
    monkeypatch.setattr(conv_direct, "transpose",
                        lambda *a: taken.append(a[1].shape) or adjoint(*a))
    g = np.ones((2, 16, 10, 10), np.float32)
    K.correlate_transpose(g, np.ones((16, 6, 5, 5), np.float32), (1, 1), ((0, 0), (0, 0)), (1, 1),
                          1, (14, 14))
    K.correlate_transpose(g[:, :6], np.ones((6, 16, 5, 5), np.float32), (1, 1),
                          ((0, 0), (0, 0)), (1, 1), 1, (14, 14))
    assert taken == [(16, 6, 5, 5)]
    monkeypatch.setattr(st.backends.conv, "direct", False)
    K.correlate_transpose(g, np.ones((16, 6, 5, 5), np.float32), (1, 1), ((0, 0), (0, 0)), (1, 1),
                          1, (14, 14))
    assert taken == [(16, 6, 5, 5)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("buf_shape, kernel, stride, dilation", [
    ((3, 2, 9, 11), (3, 3), (1, 1), (1, 1)), ((2, 3, 10, 7), (7, 5), (2, 3), (1, 1)),
    ((4, 1, 9, 9), (3, 2), (1, 2), (2, 3)), ((1, 2, 4, 4), (1, 1), (3, 3), (1, 1)),
    ((5, 3, 3, 3), (3, 3), (1, 1), (1, 1))])
def test_compiled_im2col_copies_the_strided_view(buf_shape, kernel, stride, dilation, dtype):
    """The compiled im2col gives NumPy's copy of the strided view, element for element, on
    non-square kernels, strides and dilations; a buffer that is not one block keeps to NumPy."""
    from striate.kernels.conv_im2col import im2col

    buf = np.random.default_rng(0).standard_normal(buf_shape).astype(dtype)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    out_hw = ((buf_shape[2] - dh * (kh - 1) - 1) // sh + 1,
              (buf_shape[3] - dw * (kw - 1) - 1) // sw + 1)
    compiled = im2col(buf, kernel, stride, dilation, out_hw)
    with st.backends.flags(direct=False):
        reference = im2col(buf, kernel, stride, dilation, out_hw)
    np.testing.assert_array_equal(compiled, reference)
    cut = buf[:, :, 1:]  # rows cut off: not C-contiguous
    out_cut = ((cut.shape[2] - dh * (kh - 1) - 1) // sh + 1, out_hw[1])
    with st.backends.flags(direct=False):
        reference = im2col(cut, kernel, stride, dilation, out_cut)
    np.testing.assert_array_equal(im2col(cut, kernel, stride, dilation, out_cut), reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["nchw", "channels first", "a strided view"])
@pytest.mark.parametrize("shape, kernel, stride, dilation, pads", [
    ((3, 5, 9, 7), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),  # narrow: gathered
    ((2, 4, 8, 8), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),
    ((2, 3, 11, 6), (4, 2), (3, 1), (1, 2), ((2, 0), (0, 3))),
    ((2, 3, 9, 9), (3, 3), (1, 1), (2, 2), ((-1, 2), (1, -1))),  # negative pads crop
    ((1, 2, 3, 3), (3, 3), (1, 1), (1, 1), ((3, 3), (3, 3))),  # more padding than plane
    ((2, 3, 12, 21), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),  # wide: copied by rows
    ((2, 3, 13, 30), (3, 5), (2, 2), (1, 2), ((2, 1), (0, 3))),
    ((1, 2, 16, 17), (7, 7), (2, 2), (1, 1), ((3, 3), (3, 3))),
    ((2, 2, 10, 25), (3, 3), (1, 1), (2, 2), ((-1, 1), (2, -2))),
    ((2, 6, 7, 10), (1, 1), (2, 3), (1, 1), ((0, 1), (1, 0)))])  # a strided 1×1
def test_columns_straight_from_the_planes_equal_the_padded_copy_s(shape, kernel, stride,
                                                                  dilation, pads, layout, dtype):
    """im2col of the unpadded planes (each chunk's band padded inside the compiled loop) gives
    NumPy's columns of the zero-padded copy, element for element, for every chunk of images and
    of output rows, on NCHW, channels-first and strided inputs."""
    from striate.kernels.conv_im2col import chunk_columns

    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    if layout == "channels first":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    elif layout == "a strided view":
        x = np.random.default_rng(1).standard_normal(shape[:3] + (2 * shape[3],)).astype(
            dtype)[..., ::2]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = (shape[2] + sum(pads[0]) - dh * (kh - 1) - 1) // sh + 1
    wo = (shape[3] + sum(pads[1]) - dw * (kw - 1) - 1) // sw + 1
    compiled = chunk_columns(x, (1, 1), pads, kernel, stride, dilation, wo)
    with st.backends.flags(direct=False):
        reference = chunk_columns(x, (1, 1), pads, kernel, stride, dilation, wo)
    n = shape[0]
    for images in (slice(0, n), slice(n - 1, n)):
        for rows in (slice(0, ho), slice(ho // 2, ho), slice(0, max(1, ho // 2))):
            np.testing.assert_array_equal(compiled((images, rows)), reference((images, rows)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, out_channels, kernel, stride, dilation, pads, groups", [
    ((3, 5, 9, 7), 4, (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 1),  # narrow: gathered
    ((2, 4, 8, 8), 6, (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), 1),
    ((2, 3, 11, 6), 4, (4, 2), (3, 1), (1, 2), ((2, 0), (0, 3)), 1),
    ((1, 2, 3, 3), 2, (3, 3), (1, 1), (1, 1), ((3, 3), (3, 3)), 1),  # more padding than plane
    ((2, 3, 13, 30), 2, (3, 5), (2, 2), (1, 2), ((2, 1), (0, 3)), 1),  # wide: by rows
    ((1, 2, 16, 17), 3, (7, 7), (2, 2), (1, 1), ((3, 3), (3, 3)), 1),
    ((2, 4, 9, 9), 6, (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), 2),  # groups
    ((2, 3, 10, 11), 4, (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)), 1)])  # rows never read
def test_col2im_into_dense_planes_equals_the_padded_buffer_s(monkeypatch, shape, out_channels,
                                                            kernel, stride, dilation, pads,
                                                            groups, dtype):
    """GEMM + col2im summing each chunk's columns in a scratch per channel gives the input
    gradient of the zero-padded buffer's compiled col2im bit for bit (the same order of
    additions), NumPy's to rounding, over chunks of images, with every pixel written (those no
    window reads get 0) and dense planes returned."""
    from striate.kernels import conv_im2col, jit
    from striate.kernels.conv_plan import Pass

    rng = np.random.default_rng(2)
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = (h + sum(pads[0]) - dh * (kh - 1) - 1) // sh + 1
    wo = (w + sum(pads[1]) - dw * (kw - 1) - 1) // sw + 1
    g = rng.standard_normal((n, out_channels, ho, wo)).astype(dtype)
    weight = rng.standard_normal((out_channels, c // groups, kh, kw)).astype(dtype)
    work = Pass("col2im", None, tuple((slice(a, b), slice(0, ho)) for a, b in ((0, 1), (1, n))
                                      if b > a), False)
    args = (g, weight, stride, pads, dilation, groups, (h, w), work)
    planes = conv_im2col.transpose(*args)
    assert planes.transpose(1, 0, 2, 3).flags.c_contiguous
    serves = jit.serves  # the padded buffer's path (g not served), its compiled col2im
    monkeypatch.setattr(jit, "serves", lambda *a: len(a) > 1 and serves(*a))
    padded = conv_im2col.transpose(*args)
    monkeypatch.undo()
    np.testing.assert_array_equal(planes, padded)
    with st.backends.flags(direct=False):
        reference = conv_im2col.transpose(*args)
    np.testing.assert_allclose(planes, reference, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
