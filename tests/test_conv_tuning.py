"""The convolution plan chosen by measurement: every candidate it may time computes the same
correlation as the reference loops, and the plan it keeps is the fastest of what it timed."""

import json

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from plan_fixtures import fresh_plans  # noqa: F401 - autouse, for this module
from striate.kernels import conv as K
from striate.kernels import conv_plan, conv_tuning

# (input, weight, stride, pads ((top, bottom), (left, right)), dilation, groups): odd sizes,
# uneven strides, non-square kernels, groups, and 3×3 stride-1 layers too narrow or too small
# for the rules to give them to Winograd, or too wide for the direct loops
GEOMETRIES = [
    ((2, 3, 9, 8), (4, 3, 3, 2), (1, 1), ((1, 1), (0, 0)), (1, 1), 1),
    ((2, 4, 10, 9), (6, 2, 3, 3), (2, 3), ((1, 2), (0, 1)), (1, 2), 2),
    ((1, 3, 7, 7), (3, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (2, 2), 3),
    ((2, 2, 6, 6), (4, 2, 1, 1), (3, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 6, 8, 7), (4, 3, 3, 3), (1, 1), ((1, 2), (2, 0)), (2, 1), 2),
    ((1, 2, 5, 3), (3, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((3, 5, 7, 11), (6, 5, 3, 3), (1, 1), ((0, 2), (1, 0)), (1, 1), 1),
    ((2, 20, 6, 5), (18, 20, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 3, 9, 9), (5, 3, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), 1),
    ((2, 8, 7, 7), (8, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 8),
    # depthwise: channel multipliers 1 and 2, strides, dilation, uneven pads, non-square
    ((3, 5, 9, 8), (5, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 5),
    ((2, 4, 11, 10), (8, 1, 3, 2), (2, 3), ((0, 2), (1, 0)), (2, 1), 4),
    ((1, 3, 8, 9), (3, 1, 5, 5), (2, 2), ((2, 2), (2, 2)), (1, 1), 3),
    ((2, 6, 7, 7), (6, 1, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 6),
    # same-size stride-1 depthwise (the masked weight lines too): a 3×2 kernel, a dilated 5×3
    # kernel reaching past whole planes, 2×2 planes, one image (read from the padded copy)
    ((2, 4, 6, 7), (4, 1, 3, 2), (1, 1), ((1, 1), (0, 1)), (1, 1), 4),
    ((3, 3, 5, 4), (3, 1, 5, 3), (1, 1), ((4, 4), (2, 2)), (2, 2), 3),
    ((3, 6, 2, 2), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 6),
    ((1, 4, 3, 3), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4),
    # 1×1 stride 1: the per-image GEMMs on small and larger planes, any dilation
    ((2, 5, 3, 4), (7, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 6, 9, 10), (4, 6, 1, 1), (1, 1), ((0, 0), (0, 0)), (3, 2), 1),
]


def _inputs(x_shape, w_shape, stride, pads, dilation, dtype):
    rng = np.random.default_rng(5)
    out_hw = conv_plan.out_size(x_shape[2:], w_shape[2:], stride, pads, dilation)
    x, w, g = (rng.standard_normal(s).astype(dtype)
               for s in (x_shape, w_shape, (x_shape[0], w_shape[0], *out_hw)))
    return x, w, g, tuple(out_hw)


@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation, groups", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_candidate_matches_the_reference(x_shape, w_shape, stride, pads, dilation, groups,
                                               dtype):
    dtype = np.dtype(dtype)
    x, w, g, out_hw = _inputs(x_shape, w_shape, stride, pads, dilation, dtype)
    geometry = (stride, pads, dilation, groups)
    y_ref = K.correlate(x, w, *geometry, reference=True)
    gx_ref = K.correlate_transpose(g, w, *geometry, x_shape[2:], reference=True)
    gw_ref = K.correlate_weight(x, g, w_shape[2:], *geometry, reference=True)
    rtol = 1e-11 if dtype == np.float64 else 2e-4
    shapes = (x_shape, w_shape, out_hw, dtype)
    forwards = conv_plan.correlation_candidates(x_shape, w_shape, (1, 1), pads, stride, dilation,
                                                groups, out_hw, dtype)
    inputs = conv_plan.input_grad_candidates(x_shape, w_shape, *geometry, out_hw, dtype)
    assert len(forwards) >= 1 and len(inputs) >= 2
    for p in forwards:
        plan = conv_plan.assemble(p, inputs[0], p, *shapes)
        kept = []
        assert_close(K.correlate(x, w, *geometry, kept=kept, plan=plan), y_ref, rtol=rtol,
                     what=f"forward {p}")
        gw = K.correlate_weight(x, g, w_shape[2:], *geometry, kept=kept[0] if kept else None,
                                plan=plan)
        assert_close(gw, gw_ref, rtol=rtol, what=f"weight grad {p}")
        if plan.together:
            gx, gw = K.correlate_gradients(x, g, w, *geometry, kept[0] if kept else None,
                                           plan=plan)
            assert_close(gx, gx_ref, rtol=rtol, what=f"input grad together {p}")
            assert_close(gw, gw_ref, rtol=rtol, what=f"weight grad together {p}")
    for p in inputs:
        plan = conv_plan.assemble(forwards[0], p, forwards[0], *shapes)
        assert_close(K.correlate_transpose(g, w, *geometry, x_shape[2:], plan=plan), gx_ref,
                     rtol=rtol, what=f"input grad {p}")


def test_candidates_follow_the_settings():
    x_shape, w_shape = (4, 8, 16, 16), (8, 8, 3, 3)
    pads, one = ((1, 1), (1, 1)), (1, 1)
    args = (x_shape, w_shape, one, pads, one, one, 1, (16, 16), np.dtype(np.float32))

    def names():
        return {repr(p).split(" (")[0] for p in conv_plan.correlation_candidates(*args)}

    assert names() == {"im2col", "direct", "winograd F(2×2, 3×3)", "winograd F(4×4, 3×3)"}
    with st.backends.flags(winograd_f4=False, direct=False):
        assert names() == {"im2col", "winograd F(2×2, 3×3)"}
    with st.backends.flags(winograd=False):
        assert names() == {"im2col", "direct"}


def test_measured_plan_keeps_the_fastest_once_per_geometry():
    x_shape, w_shape = (8, 8, 12, 12), (8, 8, 3, 3)
    rules = st.backends.conv_plan(x_shape, w_shape, padding=1)
    with st.backends.flags(benchmark=True):
        spent = conv_tuning.seconds_spent()
        plan = st.backends.conv_plan(x_shape, w_shape, padding=1)
        after = conv_tuning.seconds_spent()
        assert after > spent
        assert st.backends.conv_plan(x_shape, w_shape, padding=1) is plan  # cached
        assert conv_tuning.seconds_spent() == after
    assert not st.backends.conv.benchmark
    assert st.backends.conv_plan(x_shape, w_shape, padding=1) == rules  # rules again
    times = next(t for key, t in conv_tuning.timings.items() if key[:2] == (x_shape, w_shape))
    passes = ["forward", "input_grad"] + ([] if plan.together else ["weight_grad"])
    for what in passes:  # the fastest, or the rules' choice within the margin of it
        chosen, best = times[what][repr(getattr(plan, what))], min(times[what].values())
        if getattr(plan, what) == getattr(rules, what):
            assert chosen <= (1 + conv_tuning.MARGIN) * best
        else:
            assert chosen == best


def test_benchmark_setting_is_a_checked_bool():
    with pytest.raises(TypeError, match="benchmark must be True or False"):
        st.backends.conv.benchmark = 1
    assert "benchmark=False" in repr(st.backends.conv)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((3, 6, 11, 9), (8, 6, 3, 3), {"padding": 1}),
    ((2, 4, 9, 10), (6, 2, 3, 2), {"stride": (2, 1), "groups": 2, "dilation": (1, 2)}),
    ((2, 3, 13, 13), (4, 3, 5, 5), {"padding": 2}),
])
def test_measured_training_step_matches_torch(x_shape, w_shape, kw):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    xs, ws = st.tensor(x, requires_grad=True), st.tensor(w, requires_grad=True)
    xt, wt = to_torch(x, requires_grad=True), to_torch(w, requires_grad=True)
    with st.backends.flags(benchmark=True):
        y = F.conv2d(xs, ws, **kw)
    yt = torch.nn.functional.conv2d(xt, wt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    y.backward(g)
    yt.backward(to_torch(g))
    assert_close(y, yt, what="forward")
    assert_close(xs.grad, xt.grad, what="input grad")
    assert_close(ws.grad, wt.grad, what="weight grad")


def test_the_cache_file_gives_later_processes_the_same_plans(tmp_path):
    cache = tmp_path / "plans" / "conv-plans.json"
    shapes = [((4, 8, 10, 10), (8, 8, 3, 3), 1), ((2, 6, 9, 9), (4, 6, 3, 3), 2)]
    with st.backends.flags(benchmark=True, benchmark_cache=cache):
        plans = [st.backends.conv_plan(x, w, stride=s, padding=1) for x, w, s in shapes]
        assert len(json.loads(cache.read_text())) == 2
        conv_plan.clear_cache()  # as a new process: the file, not the memory
        spent = conv_tuning.seconds_spent()
        again = [st.backends.conv_plan(x, w, stride=s, padding=1) for x, w, s in shapes]
        assert conv_tuning.seconds_spent() == spent  # nothing measured
    assert again == plans
    assert st.backends.conv.benchmark_cache is None  # restored after the block


def test_choices_measured_with_other_kernels_are_measured_again(tmp_path, monkeypatch):
    cache = tmp_path / "conv-plans.json"
    shape = ((4, 8, 10, 10), (8, 8, 3, 3))
    with st.backends.flags(benchmark=True, benchmark_cache=cache):
        st.backends.conv_plan(*shape, padding=1)
        (old_key,) = json.loads(cache.read_text())
        other = json.dumps(["another machine", "0" * 16, "k"])
        cache.write_text(json.dumps({old_key: json.loads(cache.read_text())[old_key],
                                     other: {"forward": "im2col"}}))
        conv_plan.clear_cache()
        monkeypatch.setattr(conv_tuning, "code_revision", lambda: "an upgrade")
        spent = conv_tuning.seconds_spent()
        st.backends.conv_plan(*shape, padding=1)
        assert conv_tuning.seconds_spent() > spent  # measured, not read
    keys = json.loads(cache.read_text())
    assert old_key not in keys and other in keys  # this machine's stale choice dropped
    assert [json.loads(k)[1] for k in keys if k != other] == ["an upgrade"]


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"k": 3}'])
def test_an_unreadable_cache_file_is_measured_over(tmp_path, content):
    cache = tmp_path / "conv-plans.json"
    cache.write_text(content)
    with st.backends.flags(benchmark=True, benchmark_cache=cache):
        plan = st.backends.conv_plan((2, 4, 8, 8), (4, 4, 3, 3), padding=1)
    assert plan.forward.algorithm in ("im2col", "direct", "winograd")
    assert len(json.loads(cache.read_text())) >= 1


def test_a_cache_entry_naming_no_candidate_is_measured_over(tmp_path):
    cache = tmp_path / "conv-plans.json"
    with st.backends.flags(benchmark=True, benchmark_cache=cache):
        st.backends.conv_plan((2, 4, 8, 8), (4, 4, 3, 3), padding=1)
        entries = json.loads(cache.read_text())
        (key,) = entries
        entries[key]["forward"] = "fft"
        cache.write_text(json.dumps(entries))
        conv_plan.clear_cache()
        spent = conv_tuning.seconds_spent()
        st.backends.conv_plan((2, 4, 8, 8), (4, 4, 3, 3), padding=1)
        assert conv_tuning.seconds_spent() > spent
    assert json.loads(cache.read_text())[key]["forward"] != "fft"


def test_an_unwritable_cache_is_skipped(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with st.backends.flags(benchmark=True, benchmark_cache=blocker / "sub" / "plans.json"):
        st.backends.conv_plan((2, 4, 8, 8), (4, 4, 3, 3), padding=1)  # no error


def _passes_match_the_reference(x, w, g, geometry, plan):
    """The forward and both gradients by ``plan`` equal the reference loops' (float64)."""
    assert_close(K.correlate(x, w, *geometry, plan=plan),
                 K.correlate(x, w, *geometry, reference=True), rtol=1e-12)
    assert_close(K.correlate_transpose(g, w, *geometry, x.shape[2:], plan=plan),
                 K.correlate_transpose(g, w, *geometry, x.shape[2:], reference=True), rtol=1e-12)
    assert_close(K.correlate_weight(x, g, w.shape[2:], *geometry, plan=plan),
                 K.correlate_weight(x, g, w.shape[2:], *geometry, reference=True), rtol=1e-12)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("algorithm", ["depthwise", "depthwise-nhwc"])
@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation, groups", [
    ((5, 4, 9, 8), (8, 1, 3, 3), (2, 1), ((1, 0), (2, 1)), (1, 2), 4),
    ((4, 6, 7, 7), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 6),
    ((3, 40, 2, 3), (40, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 40),  # lanes past a block
])
def test_depthwise_chunks_of_images_do_not_change_the_result(monkeypatch, workers, algorithm,
                                                             x_shape, w_shape, stride, pads,
                                                             dilation, groups):
    monkeypatch.setattr(conv_plan, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", 64)
    x, w, g, out_hw = _inputs(x_shape, w_shape, stride, pads, dilation, np.float64)
    geometry = (stride, pads, dilation, groups)
    shapes = (x_shape, w_shape, out_hw, np.dtype(np.float64))
    with st.backends.flags(num_threads=workers):
        work = conv_plan.correlation_pass(algorithm, None, x_shape, w_shape, pads, groups,
                                          out_hw, np.dtype(np.float64))
        adjoint = conv_plan.adjoint_pass(algorithm, x_shape, w_shape, pads, groups, out_hw,
                                         np.dtype(np.float64))
    plan = conv_plan.assemble(work, adjoint, work, *shapes)
    assert len(plan.forward.chunks) > 1 and len(plan.input_grad.chunks) > 1
    _passes_match_the_reference(x, w, g, geometry, plan)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("x_shape, w_shape, pads, dilation", [
    ((5, 6, 7, 7), (6, 1, 3, 3), ((1, 1), (1, 1)), (1, 1)),
    ((4, 3, 5, 4), (3, 1, 5, 3), ((4, 4), (2, 2)), (2, 2)),  # shifts past whole images
])
def test_masked_lines_in_chunks_of_images_do_not_change_the_result(monkeypatch, workers, x_shape,
                                                                   w_shape, pads, dilation):
    """The first and last images (read from a padded copy) and those between, on 1 and 3
    threads; the input gradient as the full correlation by the same loops."""
    monkeypatch.setattr(conv_plan, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", 64)
    groups, dtype = x_shape[1], np.dtype(np.float64)
    geometry = ((1, 1), pads, dilation, groups)
    x, w, g, out_hw = _inputs(x_shape, w_shape, (1, 1), pads, dilation, dtype)
    with st.backends.flags(num_threads=workers):
        work = conv_plan.correlation_pass("depthwise-masked", None, x_shape, w_shape, pads,
                                          groups, out_hw, dtype)
        full = conv_plan._full_correlation(x_shape, w_shape, *geometry, out_hw)
        adjoint = conv_plan.correlation_pass("depthwise-masked", None, full[0], full[1],
                                             full[3], groups, full[7], dtype)
    plan = conv_plan.assemble(work, adjoint, work, x_shape, w_shape, out_hw, dtype)
    assert len(plan.forward.chunks) > 1 and len(plan.input_grad.chunks) > 1
    _passes_match_the_reference(x, w, g, geometry, plan)


def test_a_large_batch_is_timed_on_a_slice_and_planned_whole(monkeypatch):
    monkeypatch.setattr(conv_tuning, "MEASURE_BYTES", 1)  # every batch "large": one image timed
    x_shape, w_shape = (6, 4, 9, 9), (8, 4, 3, 3)
    with st.backends.flags(benchmark=True):
        plan = st.backends.conv_plan(x_shape, w_shape, padding=1)
    timed = [key[0] for key in conv_tuning.timings if key[1] == w_shape]
    assert (1, 4, 9, 9) in timed and x_shape not in timed
    covered = sorted(i for images, _ in plan.forward.chunks
                     for i in range(images.start, images.stop))
    assert sorted(set(covered)) == list(range(6))  # the passes are the whole batch's
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    assert_close(K.correlate(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, plan=plan),
                 K.correlate(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, reference=True),
                 rtol=1e-12)


# depthwise layers on small planes, where measuring may choose the channels-last loops or the
# masked weight lines
NHWC = [
    ((2, 3, 5, 6), (3, 1, 3, 3), {"groups": 3, "padding": 1}),
    ((1, 2, 6, 5), (4, 1, 3, 2), {"groups": 2, "stride": 2}),
    ((2, 4, 7, 6), (4, 1, 3, 3), {"groups": 4, "stride": (2, 1), "padding": (1, 2),
                                  "dilation": (1, 2)}),
    ((3, 20, 2, 2), (20, 1, 3, 3), {"groups": 20, "padding": 1}),
]


SAME_SIZE = [  # where the masked weight lines fit: "same" padding, multiplier 1, any stride
    ((2, 3, 5, 6), (3, 1, 3, 3), {"groups": 3, "padding": 1}),
    ((3, 20, 2, 2), (20, 1, 3, 3), {"groups": 20, "padding": 1}),
    ((2, 4, 7, 6), (4, 1, 3, 3), {"groups": 4, "padding": 2, "dilation": 2}),
    ((1, 5, 4, 5), (5, 1, 5, 5), {"groups": 5, "padding": 2}),
    ((2, 4, 7, 6), (4, 1, 3, 3), {"groups": 4, "padding": 1, "stride": 2}),
]
LAYOUTS = {"depthwise-nhwc": (NHWC, ("correlate", "transpose", "weight_gradient")),
           "depthwise-masked": (SAME_SIZE, ("correlate", "weight_gradient"))}
FORCED = [(layout, *case) for layout, (cases, _) in LAYOUTS.items() for case in cases]


@pytest.fixture
def depthwise_chosen(monkeypatch, layout):
    """Every depthwise plan measured takes ``layout``'s loops for all three passes (the masked
    lines' input gradient: the full correlation by them), and a list recording each call."""
    import importlib

    module = importlib.import_module(f"striate.kernels.conv_{layout.replace('-', '_')}")
    calls = []
    for name in LAYOUTS[layout][1]:
        original = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    chosen = dict.fromkeys(("forward", "input_grad", "weight_grad"), layout)
    measure = conv_tuning._measure

    def measured(x_shape, weight_shape, geometry, out_hw, dtype):
        if weight_shape[1] == 1 and geometry[-1] > 1:  # depthwise
            # a strided layer's input gradient is no correlation the masked lines compute
            strided = layout == "depthwise-masked" and geometry[0] != (1, 1)
            return {**chosen, "together": False,
                    **({"input_grad": "depthwise"} if strided else {})}
        return measure(x_shape, weight_shape, geometry, out_hw, dtype)

    monkeypatch.setattr(conv_tuning, "_measure", measured)
    with st.backends.flags(benchmark=True):
        yield calls


@pytest.mark.parametrize("layout, x_shape, w_shape, kw", FORCED)
def test_depthwise_layouts_match_central_differences(depthwise_chosen, layout, x_shape,
                                                     w_shape, kw):
    from striate.testing.gradcheck import Case, check_case

    case = Case(op="conv2d", config=f"{layout} {x_shape} {w_shape} {kw}",
                fn=lambda x, w: F.conv2d(x, w, **kw),
                make_inputs=lambda rng: (rng.standard_normal(x_shape),
                                         rng.standard_normal(w_shape)))
    assert check_case(case) < case.tol
    assert set(depthwise_chosen) == set(LAYOUTS[layout][1])


@pytest.mark.parametrize("layout, x_shape, w_shape, kw", FORCED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_layouts_match_torch(depthwise_chosen, layout, x_shape, w_shape, kw, dtype):
    """conv2d and conv_transpose2d (whose forward is the adjoint) against torch."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal(w_shape).astype(dtype)
    for ours_fn, torch_fn in ((F.conv2d, torch.nn.functional.conv2d),
                              (F.conv_transpose2d, torch.nn.functional.conv_transpose2d)):
        # conv_transpose2d's weight is (in, out / groups, kh, kw): O channels in
        channels = x_shape[1] if ours_fn is F.conv2d else w_shape[0]
        x = rng.standard_normal((x_shape[0], channels, *x_shape[2:])).astype(dtype)
        xs, ws = st.tensor(x, requires_grad=True), st.tensor(w, requires_grad=True)
        xt, wt = to_torch(x, requires_grad=True), to_torch(w, requires_grad=True)
        y, yt = ours_fn(xs, ws, **kw), torch_fn(xt, wt, **kw)
        assert_close(y, yt, what=f"{ours_fn.__name__} forward")
        g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        y.backward(g)
        yt.backward(to_torch(g))
        assert_close(xs.grad, xt.grad, what=f"{ours_fn.__name__} input grad")
        assert_close(ws.grad, wt.grad, what=f"{ours_fn.__name__} weight grad")
    assert set(depthwise_chosen) == set(LAYOUTS[layout][1])
