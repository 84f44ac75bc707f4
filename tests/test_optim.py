"""Optimisers: trajectories equal torch.optim's step for step, state_dict resumes exactly."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.optim as optim
from helpers import assert_close, to_torch, torch

STEPS = 20
NAMES = ("w", "b", "v", "unused")

_rng = np.random.default_rng(1234)
X = _rng.standard_normal((6, 4))
Y = _rng.standard_normal((6, 3))
_M = _rng.standard_normal((5, 5))
A = _M @ _M.T / 5 + np.eye(5)  # symmetric positive definite: a quadratic bowl


def initial(dtype=np.float64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"w": (4, 3), "b": (3,), "v": (5, 1), "unused": (2,)}
    return {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}


def loss_of(p: dict, lib) -> object:
    """A least-squares term, a quadratic and an exponential; ``unused`` never gets a gradient."""
    x, y, a = (lib.cast(z, p["w"]) for z in (X, Y, A))
    r = x @ p["w"] + p["b"] - y
    return (r * r).mean() + 0.5 * (p["v"] * (a @ p["v"])).sum() + (p["v"] * 0.3).exp().sum()


class Ours:
    @staticmethod
    def params(init):
        return {k: nn.Parameter(v.copy()) for k, v in init.items()}

    @staticmethod
    def cast(z, like):
        return st.tensor(z.astype(like.dtype))

    optim = optim


class Torch:
    @staticmethod
    def params(init):
        return {k: torch.nn.Parameter(to_torch(v)) for k, v in init.items()}

    @staticmethod
    def cast(z, like):
        return to_torch(z.astype(np.float64)).to(like.dtype)

    optim = torch.optim


def groups(p: dict, spec):
    """``spec`` None: all params; else a list of (names, options) param groups."""
    if spec is None:
        return [p[k] for k in NAMES]
    return [{"params": [p[k] for k in names], **opts} for names, opts in spec]


def run_pair(name: str, kwargs: dict, spec=None, dtype=np.float64, steps: int = STEPS):
    """Run both libraries side by side, checking every parameter after every step."""
    init = initial(dtype)
    ours, theirs = Ours.params(init), Torch.params(init)
    opt = getattr(optim, name)(groups(ours, spec), **kwargs)
    ref = getattr(torch.optim, name)(groups(theirs, spec), **kwargs)
    for step in range(steps):
        for o, lib in ((opt, Ours), (ref, Torch)):
            o.zero_grad()
            loss_of(ours if lib is Ours else theirs, lib).backward()
            o.step()
        for k in NAMES:
            assert_close(ours[k].data, theirs[k], dtype=dtype, what=f"{name} step {step} {k}")
    return opt, ref, ours, theirs


SGD_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.05},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"lr": 0.01, "momentum": 0.5, "maximize": True},
]

ADAM_CONFIGS = [
    {},
    {"lr": 0.05},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.02, "betas": (0.3, 0.8), "eps": 1e-3},  # β₁ < 0.5: lerp's other branch
    {"lr": 0.02, "maximize": True},
]

ADAMW_CONFIGS = [{}, {"lr": 0.05}, {"lr": 0.05, "weight_decay": 0.3},
                 {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}]


@pytest.mark.parametrize("kwargs", SGD_CONFIGS, ids=str)
def test_sgd_trajectory_matches_torch(kwargs):
    run_pair("SGD", kwargs)


@pytest.mark.parametrize("kwargs", ADAM_CONFIGS, ids=str)
def test_adam_trajectory_matches_torch(kwargs):
    run_pair("Adam", kwargs)


@pytest.mark.parametrize("kwargs", ADAMW_CONFIGS, ids=str)
def test_adamw_trajectory_matches_torch(kwargs):
    run_pair("AdamW", kwargs)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.05, "amsgrad": True}),
                                         ("AdamW", {"lr": 0.05})])
def test_float32_trajectory_matches_torch_and_stays_float32(name, kwargs):
    opt, _, ours, _ = run_pair(name, kwargs, dtype=np.float32)
    for k in NAMES:
        assert ours[k].data.dtype == np.float32
    for state in opt.state.values():
        for key, value in state.items():
            if key != "step":
                assert value.dtype == np.float32, key


@pytest.mark.parametrize("name,spec", [
    ("SGD", [(("w", "b"), {"lr": 0.1}), (("v", "unused"), {"lr": 0.01, "momentum": 0.7})]),
    ("Adam", [(("w",), {"lr": 0.1, "amsgrad": True}), (("b", "v"), {"weight_decay": 0.2}),
              (("unused",), {})]),
    ("AdamW", [(("w", "b", "v"), {"lr": 0.03, "betas": (0.8, 0.99)}), (("unused",), {})]),
])
def test_param_groups_with_their_own_options_match_torch(name, spec):
    opt, _, _, _ = run_pair(name, {"lr": 0.02}, spec)
    assert [g["lr"] for g in opt.param_groups] == [opts.get("lr", 0.02) for _, opts in spec]


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05}),
])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    spec = [(("w", "b"), {"lr": 0.03}), (("v", "unused"), {})]
    opt, ref, ours, theirs = run_pair(name, kwargs, spec, steps=10)
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    # A fresh model and optimiser, resumed from the checkpoint.
    resumed = {k: nn.Parameter(p.data.copy()) for k, p in ours.items()}
    opt2 = getattr(optim, name)(groups(resumed, spec), **kwargs)
    opt2.load_state_dict(saved)
    for _ in range(10):
        for o, p, lib in ((opt, ours, Ours), (opt2, resumed, Ours), (ref, theirs, Torch)):
            o.zero_grad()
            loss_of(p, lib).backward()
            o.step()
        for k in NAMES:
            np.testing.assert_array_equal(resumed[k].data, ours[k].data)
            assert_close(resumed[k].data, theirs[k], what=f"resumed {k}")
    # The checkpoint is a copy: continuing to train changed neither it nor what was loaded.
    for idx, entries in snapshot["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(saved["state"][idx][key], value)
    assert opt2.state[resumed["w"]] is not saved["state"][0]


def test_state_dict_has_torchs_structure():
    spec = [(("w", "b"), {"lr": 0.1}), (("v", "unused"), {})]
    init = initial()
    ours, theirs = Ours.params(init), Torch.params(init)
    opt = optim.Adam(groups(ours, spec), lr=0.01)
    ref = torch.optim.Adam(groups(theirs, spec), lr=0.01)
    for o, p, lib in ((opt, ours, Ours), (ref, theirs, Torch)):
        loss_of(p, lib).backward()
        o.step()
    sd, tsd = opt.state_dict(), ref.state_dict()
    assert sd.keys() == tsd.keys()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    assert sd["state"].keys() == tsd["state"].keys() == {0, 1, 2}  # 'unused' has no state
    for idx in sd["state"]:
        assert set(sd["state"][idx]) == set(tsd["state"][idx])
        assert sd["state"][idx]["step"] == float(tsd["state"][idx]["step"])
        assert_close(sd["state"][idx]["exp_avg_sq"], tsd["state"][idx]["exp_avg_sq"])
    for g, tg in zip(sd["param_groups"], tsd["param_groups"], strict=True):
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad"):
            assert g[key] == tg[key]


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.05, "amsgrad": True})])
def test_loads_torch_optimizer_state_dict(name, kwargs):
    """A torch.optim checkpoint (tensors, a tensor step) resumes in striate."""
    init = initial()
    ours, theirs = Ours.params(init), Torch.params(init)
    ref = getattr(torch.optim, name)(groups(theirs, None), **kwargs)
    for _ in range(5):
        ref.zero_grad()
        loss_of(theirs, Torch).backward()
        ref.step()
    for k in NAMES:
        ours[k].data[...] = theirs[k].detach().numpy()
    opt = getattr(optim, name)(groups(ours, None), **kwargs)
    opt.load_state_dict(ref.state_dict())
    for step in range(5):
        for o, p, lib in ((opt, ours, Ours), (ref, theirs, Torch)):
            o.zero_grad()
            loss_of(p, lib).backward()
            o.step()
        for k in NAMES:
            assert_close(ours[k].data, theirs[k], what=f"step {step} {k}")


def test_state_dict_survives_json_with_arrays_aside():
    """Keys that became strings and tuples that became lists still load (checkpoint metadata)."""
    opt, _, ours, _ = run_pair("Adam", {"lr": 0.05, "amsgrad": True}, steps=3)
    saved = opt.state_dict()
    arrays = {(i, k): v for i, s in saved["state"].items() for k, v in s.items()}
    meta = json.loads(json.dumps({"param_groups": saved["param_groups"],
                                  "state": {i: {k: float(v) if k == "step" else None
                                                for k, v in s.items()}
                                            for i, s in saved["state"].items()}}))
    for i, entries in meta["state"].items():
        for k in entries:
            if k != "step":
                entries[k] = arrays[int(i), k]
    resumed = {k: nn.Parameter(p.data.copy()) for k, p in ours.items()}
    opt2 = optim.Adam(groups(resumed, None), lr=0.05, amsgrad=True)
    opt2.load_state_dict(meta)
    for o, p in ((opt, ours), (opt2, resumed)):
        o.zero_grad()
        loss_of(p, Ours).backward()
        o.step()
    for k in NAMES:
        np.testing.assert_array_equal(resumed[k].data, ours[k].data)


def test_load_state_dict_casts_state_to_the_parameters_dtype():
    p64 = nn.Parameter(np.ones(3))
    opt = optim.SGD([p64], lr=0.1, momentum=0.9)
    p64.grad = np.full(3, 0.5)
    opt.step()
    p32 = nn.Parameter(np.ones(3, np.float32))
    opt32 = optim.SGD([p32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_refuses_a_different_layout():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    saved = optim.SGD([p, q], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="number of parameter groups"):
        optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 2 parameters.*has 1"):
        optim.SGD([p], lr=0.1).load_state_dict(saved)


def test_step_updates_in_place_and_skips_params_without_grad():
    p, q = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    array, untouched = p.data, q.data.copy()
    for opt in (optim.SGD([p, q], lr=0.1, momentum=0.9), optim.Adam([p, q]),
                optim.AdamW([p, q])):
        p.grad = np.ones(3)
        opt.step()
        assert p.data is array
        np.testing.assert_array_equal(q.data, untouched)
        assert q not in opt.state
    assert (p.data < 1).all()


def test_zero_grad():
    p = nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and not p.grad.any()
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_its_loss():
    p = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0 and p.data[0] == 3.0 - 0.25 * 6.0


def test_add_param_group_and_named_parameters():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([("p", p)], lr=0.1, momentum=0.5)
    assert opt.param_groups[0]["param_names"] == ["p"]
    opt.add_param_group({"params": q, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 0.5
    q.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose(q.data, 0.5)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {nn.Parameter(np.ones(1))}})
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


@pytest.mark.parametrize("make,message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "SGD: invalid learning rate -0.1"),
    (lambda ps: optim.SGD(ps, momentum=-1), "SGD: invalid momentum"),
    (lambda ps: optim.SGD(ps, weight_decay=-1), "SGD: invalid weight_decay"),
    (lambda ps: optim.SGD(ps, nesterov=True), "Nesterov momentum requires"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda ps: optim.Adam(ps, lr=-1e-3), "Adam: invalid learning rate"),
    (lambda ps: optim.Adam(ps, eps=-1.0), "Adam: invalid eps"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.9)), "beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "AdamW: invalid weight_decay"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}]), "invalid learning rate"),
    (lambda ps: optim.SGD([], lr=0.1), "empty parameter list"),
])
def test_bad_hyper_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make([nn.Parameter(np.ones(2))])


def test_bad_params_raise_type_error():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)


def test_trains_a_module():
    """End to end with nn.Module: parameters() feed the optimiser, the loss goes down."""

    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(np.zeros((3, 4)))
            self.bias = nn.Parameter(np.zeros(3))

        def forward(self, x):
            return x @ self.weight.T + self.bias

    model = Affine()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = st.tensor(X), st.tensor(Y)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- gradient clipping ---------------------------------------------------------------------------


def _params_with_grads(dtype, scale: float):
    """Three parameters (one without a gradient) in both libraries, the same gradients."""
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (5,), (2, 2, 3)]
    grads = [scale * rng.standard_normal(s).astype(dtype) for s in shapes[:2]]
    ours = [nn.Parameter(np.zeros(s, dtype)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name)))
              for s in shapes]
    for p, t, g in zip(ours, theirs, grads, strict=False):
        p.grad, t.grad = g.copy(), to_torch(g)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["below max_norm", "clipped"])
def test_clip_grad_norm_matches_torch(dtype, norm_type, scale):
    ours, theirs = _params_with_grads(dtype, scale)
    total = nn.utils.clip_grad_norm_(iter(ours), max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(iter(theirs), max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, st.Tensor) and total.dtype == dtype and total.shape == ()
    assert_close(total, expected, what="total norm")
    for p, t in zip(ours, theirs, strict=True):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            assert p.grad.dtype == dtype
            assert_close(p.grad, t.grad, what="clipped gradient")


def test_clip_grad_norm_edge_cases_like_torch():
    ours, theirs = _params_with_grads(np.float64, 1.0)
    one = nn.utils.clip_grad_norm_(ours[0], 0.1)  # a single tensor
    assert_close(one, torch.nn.utils.clip_grad_norm_(theirs[0], 0.1), what="one tensor")
    assert_close(ours[0].grad, theirs[0].grad, what="one tensor's gradient")
    none = nn.utils.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0)
    assert float(none.item()) == float(torch.nn.utils.clip_grad_norm_(
        [torch.nn.Parameter(torch.zeros(2))], 1.0)) == 0.0
    ours[1].grad[0] = np.inf
    theirs[1].grad[0] = float("inf")
    for lib, params in ((torch, theirs), (st, ours)):
        with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
            lib.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):
        assert float(nn.utils.clip_grad_norm_(ours, 1.0).item()) == np.inf
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    for p, t in zip(ours, theirs, strict=True):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())  # inf·0 = nan, as in torch


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(dtype):
    ours, theirs = _params_with_grads(dtype, 2.0)
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs, strict=True):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert max(abs(p.grad).max() for p in ours if p.grad is not None) == dtype(0.7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1}, {"lr": 0.1, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                               "weight_decay": 5e-4},
    {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01, "maximize": True}])
def test_sgd_compiled_pass_gives_the_numpy_bits(monkeypatch, dtype, kwargs):
    """kernels/optim.py against the NumPy expressions, bit for bit, on a contiguous and a
    transposed (non-C-order) parameter, over several steps (the first fills the buffer)."""
    from striate.kernels import optim as kernels
    from striate.optim import sgd

    monkeypatch.setattr(kernels, "MIN_BYTES", 0)  # these small parameters too
    rng = np.random.default_rng(5)
    shapes = [(7, 5), (3,)]
    starts = [rng.standard_normal(s).astype(dtype) for s in shapes]
    starts.append(np.ascontiguousarray(rng.standard_normal((4, 6)).astype(dtype).T).T.T)
    grads = [[rng.standard_normal(a.shape).astype(dtype) for a in starts] for _ in range(4)]

    def run():
        params = [nn.Parameter(st.tensor(a.copy())) for a in starts]
        opt = optim.SGD(params, **kwargs)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.copy()
            opt.step()
        return [p.data for p in params], [opt.state[p].get("momentum_buffer") for p in params]

    compiled = run()
    monkeypatch.setattr(sgd, "sgd_step_", lambda *a: False)
    numpy = run()
    for got, want in zip(compiled[0] + compiled[1], numpy[0] + numpy[1], strict=True):
        if want is None:
            assert got is None
            continue
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
