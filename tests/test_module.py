"""nn.Module itself: registration, traversal, state_dict, modes, dtype moves, hooks, repr.

Each structure is built twice, once from striate's Module and once from torch.nn.Module with the
same class names, and the two are compared key for key.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import striate as st
import striate.nn as nn
from helpers import assert_close, to_torch, torch


def classes(lib):
    """Test-local layers for ``lib`` (striate.nn or torch.nn): the same names and state."""

    class Lin(lib.Module):
        def __init__(self, i, o, bias=True, seed=0):
            super().__init__()
            rng = np.random.default_rng(seed)
            self.in_features, self.out_features = i, o
            self.weight = lib.Parameter(_array(lib, rng.standard_normal((o, i))))
            if bias:
                self.bias = lib.Parameter(_array(lib, rng.standard_normal(o)))
            else:
                self.register_parameter("bias", None)

        def forward(self, x):
            y = x @ self.weight.T
            return y if self.bias is None else y + self.bias

        def extra_repr(self):
            return (f"in_features={self.in_features}, out_features={self.out_features}, "
                    f"bias={self.bias is not None}")

    class Norm(lib.Module):
        """Parameters plus persistent (float and int) and non-persistent buffers."""

        def __init__(self, n):
            super().__init__()
            self.weight = lib.Parameter(_array(lib, np.ones(n)))
            self.bias = lib.Parameter(_array(lib, np.zeros(n)))
            self.register_buffer("running_mean", _array(lib, np.zeros(n)))
            self.register_buffer("running_var", _array(lib, np.ones(n)))
            self.register_buffer("num_batches_tracked", _array(lib, np.array(0, np.int64)))
            self.register_buffer("scratch", _array(lib, np.zeros(n)), persistent=False)

        def forward(self, x):
            return x * self.weight + self.bias

    class Act(lib.Module):
        def forward(self, x):
            return x * x

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.Sequential(Lin(4, 5, seed=1), Act(), Lin(5, 3, seed=2))
            self.blocks = lib.ModuleList([Norm(3), Lin(3, 3, bias=False, seed=3)])
            self.heads = lib.ModuleDict({"a": Lin(3, 2, seed=4), "b": Lin(3, 1, seed=5)})
            self.scale = lib.Parameter(_array(lib, np.array([1.5])))
            self.register_buffer("step", _array(lib, np.zeros(1)))

        def forward(self, x):
            h = self.features(x)
            for block in self.blocks:
                h = block(h)
            return self.heads["a"](h) * self.scale, self.heads["b"](h)

        def extra_repr(self):
            return "scale=1.5"

    class Tied(lib.Module):
        """A weight used twice, and a submodule registered under two names."""

        def __init__(self):
            super().__init__()
            self.a = Lin(3, 3, seed=6)
            self.b = Lin(3, 3, seed=7)
            self.b.weight = self.a.weight
            self.c = self.a

        def forward(self, x):
            return self.c(self.b(self.a(x)))

    return Lin, Norm, Act, Net, Tied


def _array(lib, value):
    value = np.asarray(value, dtype=value.dtype if value.dtype.kind == "i" else np.float64)
    return torch.from_numpy(value.copy()) if lib is torch.nn else value.copy()


Lin, Norm, Act, Net, Tied = classes(nn)
TLin, TNorm, TAct, TNet, TTied = classes(torch.nn)
X = np.random.default_rng(9).standard_normal((2, 4))


def names(pairs):
    return [name for name, _ in pairs]


@pytest.mark.parametrize("make", [lambda lib: classes(lib)[3](), lambda lib: classes(lib)[4]()],
                         ids=["Net", "Tied"])
def test_names_and_order_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_buffers()) == names(theirs.named_buffers())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_children()) == names(theirs.named_children())
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert a.shape == tuple(b.shape), key


def test_shared_weights_are_listed_once():
    tied = Tied()
    assert names(tied.named_parameters()) == ["a.weight", "a.bias", "b.bias"]
    assert len(list(tied.parameters())) == 3
    assert list(tied.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias",
                                       "c.weight", "c.bias"]


def test_state_dict_round_trip_with_shared_modules():
    ours, theirs = Tied(), TTied()
    ours.load_state_dict(ours.state_dict())  # keys listed twice load without complaint
    ours.load_state_dict(theirs.state_dict())
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})


def test_non_persistent_buffers_stay_out_of_state_dict():
    norm = Norm(3)
    assert "scratch" in names(norm.named_buffers())
    assert "scratch" not in norm.state_dict()
    norm.register_buffer("scratch", np.zeros(3), persistent=True)  # re-registered: now saved
    assert "scratch" in norm.state_dict()


def test_load_torch_state_dict_gives_torchs_outputs():
    ours, theirs = Net(), TNet()
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(0.5).add_(0.1)
        theirs.blocks[0].running_mean.fill_(0.25)
        theirs.blocks[0].num_batches_tracked.fill_(7)
    arrays = dict(ours.state_dict())
    ours.load_state_dict(theirs.state_dict())
    for key, value in ours.state_dict().items():
        assert value is arrays[key], f"{key} was replaced, not copied into"
        assert_close(value, theirs.state_dict()[key], dtype=np.float64, what=key)
    assert ours.blocks[0].num_batches_tracked.dtype == np.int64
    assert int(ours.blocks[0].num_batches_tracked) == 7
    outs, touts = ours(st.tensor(X)), theirs(to_torch(X))
    for o, t in zip(outs, touts, strict=True):
        assert_close(o, t)


def test_strict_load_lists_every_problem_in_one_message():
    ours = Net()
    state = dict(ours.state_dict())
    del state["heads.a.bias"], state["step"]
    state["extra.weight"] = np.zeros(2)
    state["features.0.weight"] = np.zeros((5, 5))
    with pytest.raises(RuntimeError) as info:
        ours.load_state_dict(state)
    message = str(info.value)
    for part in ("Net", "missing", "heads.a.bias", "step", "unexpected", "extra.weight",
                 "features.0.weight", "(5, 5)", "(5, 4)"):
        assert part in message, part


def test_non_strict_load_returns_missing_and_unexpected_like_torch():
    ours, theirs = Net(), TNet()
    state = {k: v for k, v in theirs.state_dict().items() if not k.startswith("heads.b")}
    state["stray.bias"] = torch.zeros(2)
    before = ours.heads["b"].weight.data.copy()
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict(state, strict=False)
    missing, unexpected = result
    assert missing == result.missing_keys == expected.missing_keys
    assert unexpected == result.unexpected_keys == expected.unexpected_keys
    np.testing.assert_array_equal(ours.heads["b"].weight.data, before)
    assert_close(ours.features[0].weight.data, theirs.features[0].weight)


def test_shape_mismatch_raises_even_when_not_strict():
    ours = Lin(2, 3)
    with pytest.raises(RuntimeError, match=r"weight: checkpoint \(3, 3\) vs model \(3, 2\)"):
        ours.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(3)}, strict=False)


def test_train_eval_reach_every_module():
    ours, theirs = Net(), TNet()
    assert all(m.training for m in ours.modules())
    assert ours.eval() is ours
    theirs.eval()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    assert not any(m.training for m in ours.modules())
    ours.blocks.train()
    assert [m.training for m in ours.modules()] == [False, False, False, False, False,
                                                    True, True, True, False, False, False]
    ours.train()
    assert all(m.training for m in ours.modules())


def test_zero_grad():
    net = Net()
    net(st.tensor(X))[0].sum().backward()
    params = dict(net.named_parameters())
    grads = {n: p.grad for n, p in params.items() if p.grad is not None}
    assert "features.0.weight" in grads and "heads.b.weight" not in grads
    net.zero_grad(set_to_none=False)
    for name, grad in grads.items():
        assert params[name].grad is grad and not grad.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_float64_and_back_converts_parameters_and_float_buffers():
    net = Net().float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net(st.tensor(X.astype(np.float32)))[0].sum().backward()
    assert net.to(np.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters() if p.grad is not None)
    buffers = dict(net.named_buffers())
    assert buffers["blocks.0.running_var"].dtype == np.float64
    assert buffers["blocks.0.scratch"].dtype == np.float64
    assert buffers["blocks.0.num_batches_tracked"].dtype == np.int64
    assert net.blocks[0].running_mean is buffers["blocks.0.running_mean"]
    net.to(dtype=np.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.double().step.dtype == np.float64


def test_forward_hook_sees_inputs_and_can_replace_the_output():
    lin = Lin(4, 5)
    seen = []

    def record(module, inputs, output):
        seen.append((module, inputs, output))

    def double(module, inputs, output):
        return output * 2

    handle = lin.register_forward_hook(record)
    x = st.tensor(X)
    y = lin(x)
    assert seen[0][0] is lin and seen[0][1] == (x,) and seen[0][2] is y
    second = lin.register_forward_hook(double)
    np.testing.assert_allclose(lin(x).data, 2 * y.data)
    handle.remove()
    second.remove()
    lin(x)
    assert len(seen) == 2


def _twin_mlps():
    """The same float64 Linear → ReLU → Linear in both libraries."""
    ours = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(),
                                 torch.nn.Linear(6, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _run_with_hooks(model, lib, x, g, replace=None):
    """Register a recording full backward hook on every module, run backward, return what the
    hooks saw (module name, grad_input, grad_output) in call order, and the parameter grads."""
    calls = []
    for name, module in model.named_modules():
        def hook(m, grad_input, grad_output, name=name):
            calls.append((name, [None if t is None else np.array(t.data if lib is st else
                                                                 t.detach().numpy())
                                 for t in grad_input],
                          [np.array(t.data if lib is st else t.detach().numpy())
                           for t in grad_output]))
            if replace is not None and name == replace:
                return tuple(None if t is None else t * 3 for t in grad_input)
            return None

        module.register_full_backward_hook(hook)
    model(x).backward(g)
    return calls, [p.grad if lib is st else p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("replace", [None, "1", "2"], ids=["record", "replace at ReLU",
                                                           "replace at the last Linear"])
@pytest.mark.parametrize("input_grad", [False, True], ids=["data input", "input needs grad"])
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hooks_see_and_replace_gradients_like_torch(replace, input_grad):
    ours, theirs = _twin_mlps()
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    got = _run_with_hooks(ours, st, st.tensor(x, requires_grad=input_grad), g, replace)
    want = _run_with_hooks(theirs, torch, to_torch(x, input_grad), to_torch(g), replace)
    order = ["2", "1", "0", ""] if input_grad else ["", "2", "1", "0"]  # "": the Sequential,
    assert [c[0] for c in got[0]] == [c[0] for c in want[0]] == order  # first without inputs
    for (name, gi, go), (_, ti, to) in zip(got[0], want[0], strict=True):
        assert [a is None for a in gi] == [b is None for b in ti], name
        for a, b in zip(gi + go, ti + to, strict=True):
            if a is not None:
                assert_close(a, b, what=f"hook of {name!r}")
    for a, b in zip(got[1], want[1], strict=True):
        assert_close(a, b, what="parameter gradient")


def test_backward_hook_handles_two_inputs_removal_and_bad_returns():
    mse, tmse = nn.MSELoss(), torch.nn.MSELoss()
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    seen = {}
    for lib, loss in ((st, mse), (torch, tmse)):
        loss.register_full_backward_hook(
            lambda m, gi, go, lib=lib: seen.__setitem__(lib.__name__, (gi, go)))
        ta = st.tensor(a, requires_grad=True) if lib is st else to_torch(a, True)
        tb = st.tensor(b, requires_grad=True) if lib is st else to_torch(b, True)
        loss(ta, tb).backward()
    (gi, go), (ti, to) = seen["striate"], seen["torch"]
    assert len(gi) == len(ti) == 2 and len(go) == len(to) == 1
    for x, y in zip(gi + go, ti + to, strict=True):
        assert_close(x, y, what="MSELoss hook")

    lin = nn.Linear(2, 2).double()
    handle = lin.register_full_backward_hook(lambda m, gi, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
        lin(st.tensor(a, requires_grad=True)).sum().backward()
    handle.remove()
    assert not lin._backward_hooks
    lin.register_full_backward_hook(lambda m, gi, go: (go[0],))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return"):
        lin(st.tensor(a)).sum().backward()
    with st.no_grad():  # nothing recorded, no hook
        lin(st.tensor(a, requires_grad=True))


def test_repr_nests_like_torch():
    assert repr(Net()) == repr(TNet())
    assert repr(Lin(3, 2, bias=False)) == repr(TLin(3, 2, bias=False))
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())
    assert repr(Act()) == "Act()"
    assert repr(Tied()) == repr(TTied())  # a module under two names prints under both

    def two_line(lib):
        class Two(lib.Module):
            def extra_repr(self):
                return "a=1\nb=2"

        return Two()

    assert repr(two_line(nn)) == repr(two_line(torch.nn)) == "Two(\n  a=1\n  b=2\n)"


def test_shared_weight_gradient_is_the_sum_over_its_uses():
    ours, theirs = Tied(), TTied()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(3).standard_normal((4, 3))
    (ours(st.tensor(x)) ** 2).sum().backward()
    (theirs(to_torch(x)) ** 2).sum().backward()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, tp.grad, what=name)


def test_backward_calls_accumulate_gradients():
    ours, theirs = Net(), TNet()
    x = st.tensor(X)
    for _ in range(3):
        out = ours(x)
        (out[0].sum() + (out[1] * out[1]).sum()).backward()
        tout = theirs(to_torch(X))
        (tout[0].sum() + (tout[1] * tout[1]).sum()).backward()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, tp.grad, what=name)


def test_registration_rules():
    lin = Lin(2, 2)
    with pytest.raises(TypeError, match="cannot assign ndarray to parameter 'weight'"):
        lin.weight = np.zeros((2, 2))
    lin.weight = None
    assert names(lin.named_parameters()) == ["bias"]
    lin.weight = nn.Parameter(np.ones((2, 2)))
    assert names(lin.named_parameters()) == ["weight", "bias"]  # keeps its place
    lin.extra = Act()
    assert "extra" in dir(lin) and list(lin.children()) == [lin.extra]
    del lin.extra
    assert not list(lin.children())
    with pytest.raises(AttributeError, match="'Lin' object has no attribute 'missing'"):
        _ = lin.missing
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_parameters_without_recursion_and_requires_grad():
    net = Net()
    assert names(net.named_parameters(recurse=False)) == ["scale"]
    assert names(net.named_buffers(recurse=False)) == ["step"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_before_the_parent_like_torch():
    ours, theirs = [], []
    Net().apply(lambda m: ours.append(type(m).__name__))
    TNet().apply(lambda m: theirs.append(type(m).__name__))
    assert ours == theirs


def test_containers():
    a, b, c = Act(), Lin(2, 2), Lin(2, 2, seed=1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[-1] is b and list(seq) == [a, b]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b]
    seq.append(c)
    assert names(seq.named_children()) == ["0", "1", "2"]
    named = nn.Sequential(OrderedDict([("act", a), ("lin", b)]))
    assert list(named.state_dict()) == ["lin.weight", "lin.bias"]
    x = st.tensor(np.ones((1, 2)))
    np.testing.assert_allclose(named(x).data, b(a(x)).data)
    mlist = nn.ModuleList([a]).extend([b, c])
    assert len(mlist) == 3 and mlist[1] is b and list(mlist) == [a, b, c]
    assert isinstance(mlist[1:], nn.ModuleList) and list(mlist[1:]) == [b, c]
    mdict = nn.ModuleDict({"x": a})
    mdict["y"] = b
    assert list(mdict) == ["x", "y"] and mdict["y"] is b and len(mdict) == 2
    assert list(mdict.keys()) == ["x", "y"] and list(mdict.values()) == [a, b]
    assert "y" in mdict and dict(mdict.items())["x"] is a
