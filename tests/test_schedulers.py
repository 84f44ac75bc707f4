"""Learning-rate schedules: every rate (and OneCycle momentum) equals torch's, step for step."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import striate.nn as nn
import striate.optim as optim
from helpers import torch
from striate.optim import lr_scheduler

LRS = (0.1, 0.03)  # two param groups with different base rates


def optimisers(name: str = "SGD", **kwargs):
    """The same two-group optimiser in both libraries."""
    ours = [{"params": [nn.Parameter(np.ones(2))], "lr": lr} for lr in LRS]
    theirs = [{"params": [torch.nn.Parameter(torch.ones(2))], "lr": lr} for lr in LRS]
    return getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)


def momenta(opt) -> list[float]:
    key = "betas" if "betas" in opt.defaults else "momentum"
    return [g[key][0] if key == "betas" else g[key] for g in opt.param_groups]


def run(sched_name: str, steps: int, opt_name: str = "SGD", opt_kwargs=None, **kwargs):
    """Step both schedulers ``steps`` times, asserting equal rates (and momenta) each time."""
    ours, theirs = optimisers(opt_name, **(opt_kwargs or {}))
    s = getattr(lr_scheduler, sched_name)(ours, **kwargs)
    t = getattr(torch.optim.lr_scheduler, sched_name)(theirs, **kwargs)
    history = []
    for step in range(steps + 1):
        assert s.last_epoch == t.last_epoch == step
        np.testing.assert_allclose(s.get_last_lr(), t.get_last_lr(), rtol=1e-14, atol=0,
                                   err_msg=f"{sched_name} lr at step {step}")
        assert [g["lr"] for g in ours.param_groups] == s.get_last_lr()
        np.testing.assert_allclose(momenta(ours), momenta(theirs), rtol=1e-14, atol=0,
                                   err_msg=f"{sched_name} momentum at step {step}")
        history.append(s.get_last_lr())
        if step < steps:
            ours.step()
            theirs.step()
            s.step()
            t.step()
    return s, np.array(history)


@pytest.mark.parametrize("kwargs", [{"step_size": 1}, {"step_size": 7, "gamma": 0.5},
                                    {"step_size": 30, "gamma": 0.9}])
def test_step_lr_matches_torch(kwargs):
    s, history = run("StepLR", 100, **kwargs)
    assert s.closed_form() == pytest.approx(history[-1], rel=1e-12)


@pytest.mark.parametrize("kwargs", [{"milestones": [10, 40, 70]},
                                    {"milestones": [5, 5, 60], "gamma": 0.5},
                                    {"milestones": [0, 3], "gamma": 0.2}])
def test_multistep_lr_matches_torch(kwargs):
    s, history = run("MultiStepLR", 100, **kwargs)
    assert s.closed_form() == pytest.approx(history[-1], rel=1e-12)


@pytest.mark.parametrize("kwargs", [{"T_max": 10}, {"T_max": 50, "eta_min": 1e-3},
                                    {"T_max": 1}, {"T_max": 7, "eta_min": 0.02}])
def test_cosine_annealing_matches_torch_beyond_t_max(kwargs):
    run("CosineAnnealingLR", 6 * kwargs["T_max"] + 5, **kwargs)


def test_cosine_recursion_equals_closed_form_to_rounding():
    """The recursive update drifts from the closed form only by accumulated rounding: measured
    ~3e-16 of the base rate over the first T_max steps, ~2e-13 after five periods."""
    ours, _ = optimisers()
    s = lr_scheduler.CosineAnnealingLR(ours, T_max=100, eta_min=1e-4)
    gaps = []
    for _ in range(1000):  # five periods, down and up again
        ours.step()
        s.step()
        gaps.append((np.abs(np.subtract(s.get_last_lr(), s.closed_form())) / LRS).max())
    assert max(gaps[:100]) < 1e-15
    assert max(gaps) < 1e-12


def test_cosine_values():
    ours, _ = optimisers()
    s = lr_scheduler.CosineAnnealingLR(ours, T_max=4, eta_min=0.0)
    seen = []
    for _ in range(8):
        ours.step()
        s.step()
        seen.append(s.get_last_lr()[0])
    expected = [0.1 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(1, 9)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-17)


ONECYCLE = [
    {"max_lr": 0.5, "total_steps": 100},
    {"max_lr": [0.5, 0.2], "total_steps": 37, "anneal_strategy": "linear"},
    {"max_lr": 1.0, "epochs": 4, "steps_per_epoch": 9, "pct_start": 0.25},
    {"max_lr": 0.3, "total_steps": 60, "three_phase": True},
    {"max_lr": 0.3, "total_steps": 45, "three_phase": True, "anneal_strategy": "linear",
     "base_momentum": [0.8, 0.7], "max_momentum": 0.9, "div_factor": 10.0,
     "final_div_factor": 100.0},
    {"max_lr": 0.3, "total_steps": 20, "cycle_momentum": False},
]


@pytest.mark.parametrize("kwargs", ONECYCLE, ids=range(len(ONECYCLE)))
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_one_cycle_lr_and_momentum_match_torch(kwargs, opt_name):
    opt_kwargs = {"momentum": 0.9} if opt_name == "SGD" else {}
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    run("OneCycleLR", total, opt_name, opt_kwargs, **kwargs)


def test_one_cycle_refuses_to_step_past_total_steps_like_torch():
    ours, theirs = optimisers(momentum=0.9)
    s = lr_scheduler.OneCycleLR(ours, max_lr=0.1, total_steps=5)
    t = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=0.1, total_steps=5)
    for _ in range(5):
        ours.step()
        theirs.step()
        s.step()
        t.step()
    with pytest.raises(ValueError, match="Tried to step 6 times.*total steps is 5"):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 6 times"):
        t.step()


@pytest.mark.parametrize("kwargs,message", [
    ({"max_lr": 0.1}, "either total_steps OR"),
    ({"max_lr": 0.1, "total_steps": 0}, "positive integer total_steps"),
    ({"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 0}, "positive integer steps_per_epoch"),
    ({"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}, "pct_start"),
    ({"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "exp"}, "anneal_strategy"),
    ({"max_lr": [0.1], "total_steps": 10}, "max_lr must have the same length"),
])
def test_one_cycle_bad_arguments(kwargs, message):
    ours, _ = optimisers(momentum=0.9)
    with pytest.raises(ValueError, match=message):
        lr_scheduler.OneCycleLR(ours, **kwargs)


def test_one_cycle_needs_momentum_to_cycle():
    class Plain(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(Plain([nn.Parameter(np.ones(1))]), 0.1, total_steps=3)


def test_scheduler_needs_an_optimizer_and_initial_lr_to_resume():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    ours, _ = optimisers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(ours, step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        lr_scheduler.StepLR(ours, step_size=0)


def resumed_run(make, steps: int, stop: int, opt_kwargs=None):
    """Rates of an uninterrupted run, and of one checkpointed at ``stop`` and resumed."""
    opt, _ = optimisers(**(opt_kwargs or {}))
    sched = make(opt)
    straight = []
    for _ in range(steps):
        opt.step()
        sched.step()
        straight.append((sched.get_last_lr(), momenta(opt) if opt_kwargs else None))
    opt, _ = optimisers(**(opt_kwargs or {}))
    sched = make(opt)
    resumed = []
    for i in range(steps):
        if i == stop:
            saved = sched.state_dict(), opt.state_dict()
            opt, _ = optimisers(**(opt_kwargs or {}))
            sched = make(opt)  # as in PyTorch: build the scheduler, then load both states
            opt.load_state_dict(saved[1])
            sched.load_state_dict(saved[0])
        opt.step()
        sched.step()
        resumed.append((sched.get_last_lr(), momenta(opt) if opt_kwargs else None))
    return straight, resumed


@pytest.mark.parametrize("make,opt_kwargs", [
    (lambda o: lr_scheduler.StepLR(o, 3, gamma=0.5), None),
    (lambda o: lr_scheduler.MultiStepLR(o, [4, 9, 15]), None),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001), None),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=30), {"momentum": 0.9}),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=30, three_phase=True),
     {"momentum": 0.9}),
])
def test_state_dict_round_trip_resumes_the_schedule(make, opt_kwargs):
    straight, resumed = resumed_run(make, steps=30, stop=11, opt_kwargs=opt_kwargs)
    assert resumed == straight


@pytest.mark.parametrize("make,opt_kwargs", [
    (lambda o: lr_scheduler.MultiStepLR(o, [4, 9, 15]), None),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001), None),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=30), {"momentum": 0.9}),
])
def test_state_dicts_survive_json(make, opt_kwargs, monkeypatch):
    """Checkpoints keep schedule and optimiser state in JSON (string keys, lists for tuples)."""
    straight, _ = resumed_run(make, steps=30, stop=11, opt_kwargs=opt_kwargs)
    real_state_dict = lr_scheduler.LRScheduler.state_dict

    def via_json(self):
        return json.loads(json.dumps(real_state_dict(self)))

    monkeypatch.setattr(lr_scheduler.LRScheduler, "state_dict", via_json)
    _, resumed = resumed_run(make, steps=30, stop=11, opt_kwargs=opt_kwargs)
    assert resumed == straight


def test_state_dict_holds_everything_but_the_optimizer():
    ours, _ = optimisers()
    s = lr_scheduler.StepLR(ours, step_size=2)
    for _ in range(3):
        s.step()
    state = s.state_dict()
    assert "optimizer" not in state
    assert state["last_epoch"] == 3 and state["base_lrs"] == list(LRS)
    assert s.get_last_lr() == [lr * 0.1 for lr in LRS]


def test_resuming_with_last_epoch_matches_torch():
    """Construct with last_epoch (after the optimiser's groups hold initial_lr), as torch does."""
    ours, theirs = optimisers()
    for opt in (ours, theirs):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that step() ran before optimizer.step()
        s = lr_scheduler.CosineAnnealingLR(ours, T_max=10, last_epoch=4)
        t = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=10, last_epoch=4)
        for _ in range(12):
            np.testing.assert_allclose(s.get_last_lr(), t.get_last_lr(), rtol=1e-14)
            s.step()
            t.step()


def test_schedulers_compose_with_outside_changes_like_torch():
    """The recursive forms follow a rate changed by hand between steps, as PyTorch's do."""
    ours, theirs = optimisers()
    s = lr_scheduler.CosineAnnealingLR(ours, T_max=20)
    t = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=20)
    for step in range(15):
        if step == 6:
            for opt in (ours, theirs):
                opt.param_groups[0]["lr"] *= 0.5
        ours.step()
        theirs.step()
        s.step()
        t.step()
        np.testing.assert_allclose(s.get_last_lr(), t.get_last_lr(), rtol=1e-14)


# --- ReduceLROnPlateau ----------------------------------------------------------------------------

# A loss that falls, stalls, wobbles within the threshold and falls again.
PLATEAU_METRICS = [1.0, 0.8, 0.8, 0.80001, 0.9, 0.85, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69999, 0.6,
                   0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]


@pytest.mark.parametrize("kwargs", [
    {},
    {"patience": 0},
    {"patience": 2, "factor": 0.5, "cooldown": 2},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 1, "min_lr": [0.02, 0.001], "factor": 0.3},
    {"patience": 1, "min_lr": 0.05, "eps": 0.01},
    {"mode": "max", "patience": 1, "threshold_mode": "rel"},
    {"mode": "max", "patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    ours, theirs = optimisers()
    s = lr_scheduler.ReduceLROnPlateau(ours, **kwargs)
    t = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    for metric in PLATEAU_METRICS * 2:
        s.step(metric)
        t.step(metric)
        assert s.get_last_lr() == t.get_last_lr() == [g["lr"] for g in ours.param_groups]
        assert (s.best, s.num_bad_epochs, s.cooldown_counter, s.last_epoch) == (
            t.best, t.num_bad_epochs, t.cooldown_counter, t.last_epoch)
    assert s.get_last_lr() != list(LRS)  # the table above did reduce the rates


def test_reduce_lr_on_plateau_state_dict_is_torchs_and_resumes_through_json():
    ours, theirs = optimisers()
    s = lr_scheduler.ReduceLROnPlateau(ours, patience=1)
    t = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, patience=1)
    assert s.state_dict() == t.state_dict()  # best = inf before the first step
    for metric in PLATEAU_METRICS[:7]:
        s.step(metric)
        t.step(metric)
    assert s.state_dict() == t.state_dict()
    saved = json.loads(json.dumps(s.state_dict()))  # as a checkpoint keeps it
    opt2, _ = optimisers()
    opt2.load_state_dict(ours.state_dict())
    s2 = lr_scheduler.ReduceLROnPlateau(opt2)
    s2.load_state_dict(saved)
    for metric in PLATEAU_METRICS[7:]:
        s.step(metric)
        s2.step(np.float64(metric))
        assert s2.get_last_lr() == s.get_last_lr()
    assert s2.state_dict() == s.state_dict()


@pytest.mark.parametrize("kwargs,error,message", [
    ({"factor": 1.0}, ValueError, "Factor should be < 1.0"),
    ({"mode": "up"}, ValueError, "mode up is unknown"),
    ({"threshold_mode": "pct"}, ValueError, "threshold mode pct is unknown"),
    ({"min_lr": [0.1]}, ValueError, "expected 2 min_lrs, got 1"),
])
def test_reduce_lr_on_plateau_bad_arguments(kwargs, error, message):
    ours, theirs = optimisers()
    with pytest.raises(error, match=message):
        torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    with pytest.raises(error, match=message):
        lr_scheduler.ReduceLROnPlateau(ours, **kwargs)
