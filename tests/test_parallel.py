"""The worker threads: NumPy's BLAS held to one thread inside them, products split over them."""

import numpy as np
import pytest

import striate as st
from striate.kernels import parallel


def test_set_num_threads_sets_numpy_blas_and_tune_process_sets_one():
    pytest.importorskip("threadpoolctl")
    libraries = parallel.numpy_blas()
    if not libraries:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    before = st.get_num_threads()
    try:
        st.set_num_threads(2)
        assert st.get_num_threads() == 2
        assert st.backends.tune_process(malloc=False).blas_threads == len(libraries)
        assert st.get_num_threads() == 1
    finally:
        st.set_num_threads(before)


def test_worker_threads_are_a_setting_and_a_context():
    threads = st.backends.cpu.num_threads
    with st.backends.flags(num_threads=3, winograd=False):
        assert parallel.num_workers() == 3 and not st.backends.conv.winograd
    assert parallel.num_workers() == threads and st.backends.conv.winograd
    with pytest.raises(ValueError):
        st.backends.cpu.num_threads = 0
    with pytest.raises(TypeError):
        st.backends.conv.direct = "no"


@pytest.mark.parametrize("transposed", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, cols, workers", [(7, 11, 2), (5, 11, 3), (1, 11, 2),
                                                 (64, 11, 1), (40, 3, 2), (2, 50, 3)])
def test_matmul_split_over_workers_equals_numpy(monkeypatch, rows, cols, workers, dtype,
                                                transposed):
    """Split by a's rows (a the larger operand) or by b's columns (b the larger; taken as
    (bᵀ aᵀ)ᵀ where b is a transposed view, as Linear passes Wᵀ)."""
    monkeypatch.setattr(st.backends.cpu, "num_threads", workers)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_MACS", 1)  # split even these small products
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, 9)).astype(dtype)
    b = rng.standard_normal((cols, 9)).astype(dtype).T
    b = b if transposed else np.ascontiguousarray(b)
    out = parallel.matmul(a, b)
    assert out.dtype == dtype and out.shape == (rows, cols)
    # BLAS may sum a row block in another order than the whole product (it did on AVX2), so
    # float32 is held to its rounding of a 9-term sum of O(1) products, not to a relative 1e-6
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-14}
    np.testing.assert_allclose(out, a @ b, **tol)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_map_chunks_keeps_the_order_and_runs_every_part_once(monkeypatch, workers):
    monkeypatch.setattr(st.backends.cpu, "num_threads", workers)
    seen = []
    out = parallel.map_chunks(lambda p: seen.append(p) or p * p, list(range(50)))
    assert out == [p * p for p in range(50)]
    assert sorted(seen) == list(range(50))


def test_map_chunks_parts_keep_the_caller_s_floating_point_settings(monkeypatch):
    """A part that overflows warns in no thread when the caller silenced it (the trainer does,
    and reports a non-finite loss itself), and raises in every thread when the caller asked."""
    import warnings

    monkeypatch.setattr(st.backends.cpu, "num_threads", 3)
    big = np.full(4, 1e30, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore"):
            out = parallel.map_chunks(lambda p: big * big, list(range(6)))
    assert all(np.isinf(o).all() for o in out)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        parallel.map_chunks(lambda p: big * big if p == 5 else big, list(range(6)))


@pytest.mark.parametrize("bad", [0, 7, 49])
def test_map_chunks_raises_a_part_s_error_after_the_others_finish(monkeypatch, bad):
    """Whichever thread meets the error, it reaches the caller, and only once every other part
    has run (none is left writing into the caller's arrays)."""
    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    done = []

    def part(p):
        if p == bad:
            raise ValueError(f"part {p}")
        done.append(p)

    with pytest.raises(ValueError, match=f"part {bad}"):
        parallel.map_chunks(part, list(range(50)))
    assert sorted(done) == [p for p in range(50) if p != bad]



@pytest.mark.parametrize("workers", [2, 3])
def test_a_part_may_map_chunks_of_its_own(monkeypatch, workers):
    """A part that splits its own work (a kernel calling another) runs those parts itself, as
    its helpers may be busy with the caller's: the right values, and no thread waits forever."""
    import threading

    monkeypatch.setattr(st.backends.cpu, "num_threads", workers)
    out = []

    def outer():
        out.append(parallel.map_chunks(
            lambda p: sum(parallel.map_chunks(lambda q: p * q, list(range(5)))), list(range(8))))

    caller = threading.Thread(target=outer, daemon=True)
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "nested map_chunks did not finish"
    assert out == [[10 * p for p in range(8)]]


def test_concurrent_callers_each_get_their_own_results(monkeypatch):
    """Two threads sharing the helpers (say, two models served at once) each get back exactly
    their own parts' results."""
    import threading

    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    got: dict = {}

    def caller(k):
        got[k] = [parallel.map_chunks(lambda p: (k, p), list(range(6))) for _ in range(200)]

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(got[k] == [[(k, p) for p in range(6)]] * 200 for k in range(3))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_map_chunks_works_in_a_forked_child(monkeypatch):
    """A child forked after the pool started (a data-loading worker, say) gets a pool of its
    own: the parent's threads do not exist there."""
    import multiprocessing

    monkeypatch.setattr(st.backends.cpu, "num_threads", 2)
    parallel.map_chunks(lambda p: p, [0, 1, 2])  # the parent's pool is running
    with multiprocessing.get_context("fork").Pool(1) as pool:
        result = pool.apply_async(_squares_in_child).get(timeout=60)
    assert result == [0, 1, 4, 9]


def _squares_in_child():
    return parallel.map_chunks(lambda p: p * p, [0, 1, 2, 3])


@pytest.mark.parametrize("outside", [1, 2])
def test_map_chunks_runs_its_parts_with_one_blas_thread(outside):
    """Inside the parts BLAS has one thread, whatever the caller set (restored after); with one
    thread already, nothing is switched."""
    pytest.importorskip("threadpoolctl")
    if not parallel.numpy_blas():
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    before = st.get_num_threads()
    try:
        st.set_num_threads(outside)
        inside = parallel.map_chunks(lambda p: st.get_num_threads(), [0, 1])
        assert inside == [1, 1]
        assert st.get_num_threads() == outside
    finally:
        st.set_num_threads(before)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_sum_chunks_is_the_ordered_sum_with_few_results_alive(workers):
    """The same bits as sum(map_chunks(...)), whichever thread finishes first, and at most about
    one result per worker waiting to be added (not one per part)."""
    import threading
    import time

    rng = np.random.default_rng(0)
    terms = [rng.standard_normal(1000).astype(np.float32) * 10.0 ** rng.integers(-3, 4)
             for _ in range(24)]
    alive, most, lock = [0], [0], threading.Lock()

    class Counted(np.ndarray):
        def __del__(self):
            with lock:
                alive[0] -= 1

    def term(i):
        time.sleep(0.002 * ((i * 7) % 3))  # finish out of order
        with lock:
            alive[0] += 1
            most[0] = max(most[0], alive[0])
        return terms[i].copy().view(Counted)

    with st.backends.flags(num_threads=workers):
        total = parallel.sum_chunks(term, range(len(terms)))
    expected = terms[0].copy()
    for t in terms[1:]:
        expected += t
    np.testing.assert_array_equal(np.asarray(total), expected)
    assert most[0] <= 2 * workers + 1
