"""The engine: graph shapes that backward must handle, modes, creation and conversions."""

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)), rng.standard_normal((4,))


def test_fan_out_and_residual_add_match_torch():
    a_np, b_np = _pair()
    a, b = st.tensor(a_np, requires_grad=True), st.tensor(b_np, requires_grad=True)
    h = a * b                      # used three times: fan-out
    y = (h + h.exp() * a + (h * h).sum(1, keepdim=True)).sum()
    y.backward()
    ta, tb = to_torch(a_np, True), to_torch(b_np, True)
    th = ta * tb
    (th + th.exp() * ta + (th * th).sum(1, keepdim=True)).sum().backward()
    assert_close(y.data, y.data)
    assert_close(a.grad, ta.grad, what="a.grad")
    assert_close(b.grad, tb.grad, what="b.grad")


def test_shared_weight_receives_summed_gradient():
    w = st.tensor(np.array([2.0, -1.0]), requires_grad=True)
    x = st.tensor(np.array([1.0, 3.0]))
    y = ((w * x) * w).sum()        # w appears twice: dy/dw = 2 w x
    y.backward()
    np.testing.assert_allclose(w.grad, 2 * w.data * x.data)


def test_several_backward_calls_accumulate():
    a = st.tensor(np.ones(3), requires_grad=True)
    for _ in range(3):
        (a * 2.0).sum().backward()
    np.testing.assert_allclose(a.grad, np.full(3, 6.0))


def test_leaf_gradients_never_share_memory():
    """An op may hand one array to several parents (an addition does); each leaf's .grad is its
    own, and the user's gradient argument is never taken over."""
    a = st.tensor(np.ones(4), requires_grad=True)
    b = st.tensor(np.ones(4), requires_grad=True)
    (a + b).backward(np.full(4, 2.0))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad[0] = 5.0
    assert b.grad[0] == 2.0
    given = np.full(4, 3.0)
    c = st.tensor(np.ones(4), requires_grad=True)
    (c * 1.0).backward(given)
    c.grad[:] = 0
    assert given[0] == 3.0


def test_a_fresh_weight_gradient_is_taken_without_a_copy():
    """A fully connected layer's ∂L/∂W is a new array: .grad takes it as it is, so backward does
    not hold two weight-sized arrays at once."""
    import tracemalloc

    layer = st.nn.Linear(1024, 1024, bias=False)
    x = st.tensor(np.ones((2, 1024), np.float32))
    loss = layer(x).sum()
    tracemalloc.start()
    try:
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * layer.weight.data.nbytes


def test_retain_graph_allows_second_backward_and_default_frees_it():
    a = st.tensor(np.ones(3), requires_grad=True)
    y = (a.exp() * a).sum()
    y.backward(retain_graph=True)
    first = a.grad.copy()
    y.backward()
    np.testing.assert_allclose(a.grad, 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_concatenation_routes_gradient_slices():
    a = st.tensor(np.ones((2, 2)), requires_grad=True)
    b = st.tensor(np.ones((2, 3)), requires_grad=True)
    y = st.cat([a, b, a], 1)
    y.backward(np.arange(14, dtype=np.float64).reshape(2, 7))
    np.testing.assert_allclose(a.grad, [[0 + 5, 1 + 6], [7 + 12, 8 + 13]])
    np.testing.assert_allclose(b.grad, [[2, 3, 4], [9, 10, 11]])


def test_no_grad_records_nothing_and_detach_cuts_the_graph():
    a = st.tensor(np.ones(3), requires_grad=True)
    with st.no_grad():
        y = a * 2
    assert not y.requires_grad and y.grad_fn is None
    z = (a * 2).detach() * a
    z.sum().backward()
    np.testing.assert_allclose(a.grad, np.full(3, 2.0))


def test_set_grad_enabled_as_call_and_context_manager_like_torch():
    """Called, it sets the mode from then on; as a context manager, within the block only, the
    mode before the call coming back after it, as torch's does."""
    for lib in (st, torch):
        a = (st.tensor if lib is st else torch.tensor)(np.ones(3), requires_grad=True)
        with lib.set_grad_enabled(False):
            assert not (a * 2).requires_grad
            with lib.set_grad_enabled(True):
                assert (a * 2).requires_grad
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()
        lib.set_grad_enabled(False)
        try:
            assert not (a * 2).requires_grad and not lib.is_grad_enabled()
        finally:
            lib.set_grad_enabled(True)
        assert (a * 2).requires_grad


def test_inference_mode_as_context_and_decorator_like_torch():
    """Each form records nothing where torch's records nothing, and restores the mode after."""
    for lib in (st, torch):
        a = (st.tensor if lib is st else torch.tensor)(np.ones(3), requires_grad=True)

        @lib.inference_mode
        def bare(x):
            return x * 2

        @lib.inference_mode()
        def called(x):
            return x * 2

        @lib.inference_mode(False)
        def off(x):
            return x * 2

        with lib.inference_mode():
            inside = a * 2
            with lib.inference_mode(False):
                nested_off = a * 2
        with lib.no_grad(), lib.inference_mode(False):
            off_in_no_grad = a * 2
        with lib.inference_mode(mode=False):
            outside_off = a * 2
        got = [t.requires_grad for t in (inside, bare(a), called(a), off(a), outside_off,
                                         nested_off, off_in_no_grad, a * 2)]
        assert got == [False, False, False, True, True, True, True, True], lib.__name__
        assert lib.is_grad_enabled()
    with pytest.raises(ValueError), st.inference_mode():
        raise ValueError
    assert st.is_grad_enabled() and bare.__name__ == "bare"


def test_backward_needs_a_scalar_or_a_gradient():
    a = st.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (a * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        st.tensor(np.ones(2)).sum().backward()


def test_retain_grad_keeps_intermediate_gradient():
    a = st.tensor(np.ones(2), requires_grad=True)
    h = a * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_mixed_float_dtypes_are_refused():
    a = st.tensor(np.ones(2, dtype=np.float32))
    b = st.tensor(np.ones(2, dtype=np.float64))
    with pytest.raises(TypeError, match="different dtypes"):
        a + b


def test_python_scalars_keep_float32():
    a = st.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y = 2.5 * a + 1 - a / 3.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32


def test_creation_defaults_follow_torch():
    assert st.tensor([1.0, 2.0]).dtype == np.float32
    assert st.tensor([1, 2]).dtype == np.int64
    assert st.tensor(np.zeros(2)).dtype == np.float64
    assert st.zeros(2, 3).shape == (2, 3) and st.ones((4,)).dtype == np.float32
    st.manual_seed(3)
    first = st.randn(5).numpy()
    st.manual_seed(3)
    np.testing.assert_array_equal(first, st.randn(5).numpy())
    g = np.random.default_rng(1)
    assert st.rand(2, generator=g).shape == (2,)


def test_conversions_and_description():
    t = st.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.size(1) == 3
    assert t.double().dtype == np.float64 and t.float().dtype == np.float32
    assert t[1, 2].item() == 5.0
    assert "requires_grad=True" in repr(t)
    assert (t > 2).numpy().sum() == 3
    y = t.float().sum()
    y.backward()
    assert t.grad.dtype == np.float64  # the cast's backward casts back


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError):
        st.tensor(np.arange(3), requires_grad=True)


def test_setitem_refused_on_graph_tensors_but_allowed_under_no_grad():
    a = st.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        a[0] = 1.0
    with st.no_grad():
        a[0] = 1.0
    assert a.data[0] == 1.0


def test_deep_chain_does_not_recurse():
    a = st.tensor(np.ones(2), requires_grad=True)
    y = a
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(a.grad, np.ones(2))


def test_max_splits_gradient_between_ties_like_torch_amax():
    x_np = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    x = st.tensor(x_np, requires_grad=True)
    x.amax(1).sum().backward()
    tx = to_torch(x_np, True)
    tx.amax(1).sum().backward()
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("shape_a,shape_b", [((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)),
                                             ((5, 1, 2, 3), (4, 3, 2)), ((3,), (3,))])
def test_matmul_broadcasting_matches_torch(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = st.tensor(a_np, requires_grad=True), st.tensor(b_np, requires_grad=True)
    ta, tb = to_torch(a_np, True), to_torch(b_np, True)
    y, ty = a @ b, ta @ tb
    g = rng.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    assert_close(y.data, ty, what="forward")
    assert_close(a.grad, ta.grad, what="a.grad")
    assert_close(b.grad, tb.grad, what="b.grad")


@pytest.mark.parametrize("widths", [(1, 2), (1, 2, 0, 3), (0, 0, 2, 1, 1, 0), (-1, 2, 1, -1),
                                    (2, -1, 0, 0, -1, 1), (1, 1, 1, 1, 1, 1, 1, 1)])
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad_matches_torch(widths, value):
    """F.pad (constant) pads, or crops where a width is negative, as PyTorch does, on any number
    of axes and with any constant; its gradient is g's interior (a view of g when nothing is
    cropped, a copy otherwise)."""
    data = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    x = st.tensor(data, requires_grad=True)
    y = F.pad(x, widths, value=value)
    xt = to_torch(data, requires_grad=True)
    yt = torch.nn.functional.pad(xt, widths, value=value)
    assert_close(y, yt, rtol=0, what="output")
    up = np.random.default_rng(2).standard_normal(yt.shape)
    y.backward(st.tensor(up))
    yt.backward(to_torch(up))
    assert_close(x.grad, xt.grad, rtol=0, what="gradient")


def test_pad_and_slicing_keep_the_memory_layout():
    """A convolution's output is an NCHW view of (C, N, H, W) memory; ResNet's option-A shortcut
    slices and pads it.  Both results, and both gradients, stay in that memory order (so the
    residual sum after them adds arrays laid out alike), with NumPy's values."""
    from striate.kernels.layout import memory_order

    data = np.random.default_rng(0).standard_normal((3, 4, 6, 6)).astype(np.float32)
    cnhw = np.ascontiguousarray(data.swapaxes(0, 1)).swapaxes(0, 1)
    x = st.from_numpy(cnhw).requires_grad_()  # st.tensor would copy into NCHW order
    sliced = x[:, :, ::2, ::2]
    y = F.pad(sliced, (0, 0, 0, 0, 2, 1))
    expected = np.pad(data[:, :, ::2, ::2], ((0, 0), (2, 1), (0, 0), (0, 0)))
    np.testing.assert_array_equal(y.data, expected)
    assert memory_order(y.data) == (1, 0, 2, 3)
    up = np.ascontiguousarray(np.ones_like(expected).swapaxes(0, 1)).swapaxes(0, 1)
    y.backward(up)
    grad = np.zeros_like(data)
    grad[:, :, ::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.data, grad)
    assert memory_order(x.grad.data) == (1, 0, 2, 3)


def test_a_backward_may_write_into_a_gradient_only_the_engine_holds():
    """ctx.grad_writable: True for a fresh gradient from the op after, False for the gradient the
    caller passed to backward() (the caller still holds it, and must find it unchanged)."""
    from striate.function import Function

    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.grad_writable)
            return g

    x = st.tensor(np.ones(5), requires_grad=True)
    (Probe.apply(x) * 3.0).sum().backward()
    given = np.full(5, 2.0)
    Probe.apply(x).backward(given)
    assert seen == [True, False]


def test_relu_masks_in_place_and_leaves_shared_gradients_alone():
    """Fan-out hands one gradient array to two rectifiers: neither may mask it for the other."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((4, 6))
    x = st.tensor(x_np, requires_grad=True)
    h = x * 1.5
    (F.relu(h) * 2.0 + F.relu(-h) * 3.0 + F.relu(h)).sum().backward()
    tx = to_torch(x_np, True)
    th = tx * 1.5
    (torch.relu(th) * 2.0 + torch.relu(-th) * 3.0 + torch.relu(th)).sum().backward()
    assert_close(x.grad, tx.grad, what="x.grad")
