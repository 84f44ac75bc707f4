"""Which arrays the compiled kernels take: float32 and float64 NumPy arrays; the rest (float16,
which Numba cannot compute in) keeps to NumPy."""

import numpy as np
import pytest

import striate as st
from striate.kernels import jit


def test_compiled_kernels_serve_float32_and_float64_numpy_arrays():
    if not jit.available():
        pytest.skip("Numba is not installed")
    assert jit.serves(np.zeros(3, np.float32), np.zeros(3, np.float64))
    assert not jit.serves(np.zeros(3, np.float16))
    assert not jit.serves(np.zeros(3, np.float32), np.zeros(3, np.float16))
    assert not jit.serves([0.0, 1.0])


@pytest.mark.parametrize("x_shape, w_shape", [((2, 3, 8, 8), (4, 3, 3, 3)),  # direct loops
                                              ((2, 16, 32, 32), (16, 16, 3, 3))])  # Winograd
def test_float16_keeps_to_numpy_where_numba_cannot_compute(x_shape, w_shape):
    """Numba has no float16 arithmetic: the layers whose float32 path is compiled still take
    float16 (on NumPy), keep it, and agree with float32 forward (gradients: finite; rounding
    moves some max-pool arguments, so they are not compared element by element)."""
    import striate.nn.functional as F

    rng = np.random.default_rng(0)
    x32, w32 = rng.uniform(0, 1, x_shape), rng.uniform(-0.1, 0.1, w_shape)
    outs = []
    for dtype in (np.float16, np.float32):
        x = st.tensor(x32.astype(dtype), requires_grad=True)
        w = st.tensor(w32.astype(dtype), requires_grad=True)
        y = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(x, w, padding=1), None, None,
                                             training=True)), 2)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == w.grad.dtype == dtype
        assert np.isfinite(x.grad).all() and np.isfinite(w.grad).all()
        outs.append(y.numpy())
    np.testing.assert_allclose(outs[0].astype(np.float32), outs[1], rtol=0.02, atol=0.02)


def test_a_compile_is_followed_by_a_collection_of_its_cycles(monkeypatch):
    """What a reference cycle holds (as Numba's compiler leaves frames and tracebacks holding the
    step's arrays) is freed at the end of the backward after a kernel compiled, not at Python's
    next full collection."""
    import gc
    import weakref

    from striate import compile_cycles

    if not jit.available():
        pytest.skip("Numba is not installed")

    class Holder:
        pass

    def cycle_holding_an_array():
        holder = Holder()
        holder.me, holder.array = holder, np.ones(10)
        return weakref.ref(holder.array)

    gc.disable()
    try:
        compile_cycles.collect()
        held = cycle_holding_an_array()
        compile_cycles.collect()  # nothing compiled since the last call: no collection
        assert held() is not None
        monkeypatch.setattr(compile_cycles, "_signatures_seen", -1)  # as if one had compiled
        x = st.tensor(np.ones(3), requires_grad=True)
        (x * 2.0).sum().backward()
        assert held() is None
    finally:
        gc.enable()
