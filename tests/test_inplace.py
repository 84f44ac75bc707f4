"""In-place writes and the version counter: a backward whose saved values were overwritten raises
PyTorch's error instead of returning wrong gradients, and versions count as PyTorch's do.

Each scenario is written once and run on both libraries (``lib`` is ``striate`` or ``torch``;
the two spell these calls alike), so every claim here is checked against PyTorch itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
import striate.nn.init  # noqa: F401  (st.nn, st.nn.init, st.optim as attributes, as torch's)
import striate.optim  # noqa: F401
from helpers import torch

LIBS = {"striate": st, "torch": torch}
INPLACE_ERROR = ("one of the variables needed for gradient computation has been modified by an "
                 "inplace operation")
VERSION_PART = r"is at version \d+; expected version \d+ instead"


@pytest.fixture(params=list(LIBS))
def lib(request):
    return LIBS[request.param]


def _array(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _seeded(lib):
    (torch.manual_seed if lib is torch else st.manual_seed)(0)


# --- writes between forward and backward that change what the backward needs ------------------
def _mul_setitem(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    b[...] = 100
    return loss


def _mul_zero_(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    b.zero_()
    return loss


def _mul_write_through_view(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    b[1:][...] = 0  # a view of b: the write is b's too
    return loss


def _mul_write_through_detach(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    b.detach().zero_()
    return loss


def _linear_weight_under_no_grad(lib):
    _seeded(lib)
    lin, x = lib.nn.Linear(3, 2), lib.randn(4, 3, requires_grad=True)
    loss = lin(x).sum()
    with lib.no_grad():
        lin.weight[...] = 0
    return loss


def _conv_weight_under_no_grad(lib):
    _seeded(lib)
    conv, x = lib.nn.Conv2d(2, 2, 3), lib.randn(1, 2, 5, 5)
    loss = conv(x).sum()
    with lib.no_grad():
        conv.weight[...] = 0
    return loss


def _batch_norm_weight_under_no_grad(lib):
    _seeded(lib)
    bn, x = lib.nn.BatchNorm2d(2), lib.randn(2, 2, 3, 3, requires_grad=True)
    loss = (bn(x) * lib.randn(2, 2, 3, 3)).sum()
    with lib.no_grad():
        bn.weight[...] = 2
    return loss


def _saved_output_overwritten(lib):
    a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a.exp()  # exp saves its output
    with lib.no_grad():
        y[...] = 0
    return y.sum()


def _optimiser_step_before_backward(lib):
    _seeded(lib)
    lin, x = lib.nn.Linear(3, 2), lib.randn(4, 3, requires_grad=True)
    optimiser = lib.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(x).sum().backward()  # gradients to step with
    loss = lin(x).sum()
    optimiser.step()
    return loss


RAISING = [_mul_setitem, _mul_zero_, _mul_write_through_view, _mul_write_through_detach,
           _linear_weight_under_no_grad, _conv_weight_under_no_grad,
           _batch_norm_weight_under_no_grad, _saved_output_overwritten,
           _optimiser_step_before_backward]


@pytest.mark.parametrize("scenario", RAISING, ids=lambda f: f.__name__.strip("_"))
def test_backward_after_overwriting_a_saved_tensor_raises_like_torch(lib, scenario):
    loss = scenario(lib)
    with pytest.raises(RuntimeError, match=INPLACE_ERROR) as caught:
        loss.backward()
    if lib is st:
        assert caught.match(VERSION_PART)


def test_inplace_error_names_the_tensor_and_its_versions():
    loss = _mul_setitem(st)
    with pytest.raises(RuntimeError) as caught:
        loss.backward()
    assert ("inplace operation: [Tensor of shape (3,), float32] is at version 1; "
            "expected version 0 instead") in str(caught.value)
    assert "mul saved it" in str(caught.value)


def test_second_backward_after_a_write_raises():
    a, b = st.tensor([1.0, 2.0, 3.0], requires_grad=True), st.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    loss.backward(retain_graph=True)
    b[...] = 0
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        loss.backward()


# --- writes that leave the backward's values alone ------------------------------------------
def _write_to_an_input_not_saved(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a + b).sum()  # add saves neither input
    b[...] = 100
    loss.backward()
    return a.grad, [1.0, 1.0, 1.0]


def _write_to_an_unrelated_tensor(lib):
    a, b, c = (lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0]),
               lib.tensor([7.0, 8.0, 9.0]))
    loss = (a * b).sum()
    c.zero_()
    loss.backward()
    return a.grad, [4.0, 5.0, 6.0]


def _write_after_backward(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    (a * b).sum().backward()
    b[...] = 2
    a.grad = None
    (a * b).sum().backward()  # a new graph sees the new values
    return a.grad, [2.0, 2.0, 2.0]


def _write_through_data(lib):
    """``.data`` is the escape hatch in both: writing through it bumps no version (and so goes
    unnoticed, however wrong the gradient it gives)."""
    a, b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True), lib.tensor([4.0, 5.0, 6.0])
    loss = (a * b).sum()
    b.data[...] = 100
    assert b._version == 0
    loss.backward()
    return a.grad, [100.0, 100.0, 100.0]


@pytest.mark.parametrize("scenario", [_write_to_an_input_not_saved, _write_to_an_unrelated_tensor,
                                      _write_after_backward, _write_through_data],
                         ids=lambda f: f.__name__.strip("_"))
def test_writes_the_backward_does_not_need_pass_like_torch(lib, scenario):
    grad, expected = scenario(lib)
    np.testing.assert_allclose(_array(grad), expected)


@pytest.mark.parametrize("optimiser", ["SGD", "Adam"])
def test_training_steps_and_gradient_accumulation_do_not_raise(lib, optimiser):
    """step after backward, then the next forward: the usual loop; two backwards summed before
    one step; ``zero_grad`` both ways."""
    _seeded(lib)
    model = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.BatchNorm2d(3), lib.nn.ReLU(),
                              lib.nn.Flatten(), lib.nn.Linear(27, 2))
    x = lib.randn(2, 2, 5, 5)
    opt = getattr(lib.optim, optimiser)(model.parameters(), lr=0.01)
    for set_to_none in (True, False, True):
        opt.zero_grad(set_to_none=set_to_none)
        model(x).sum().backward()
        once = _array(model[0].weight.grad).copy()
        model(x).sum().backward()  # accumulates: same parameters, same input
        np.testing.assert_allclose(_array(model[0].weight.grad), 2 * once, rtol=1e-5)
        opt.step()


# --- the counter itself --------------------------------------------------------------------
def _versions(lib) -> list[int]:
    """The versions of tensors after a sequence of in-place writes, views and updates."""
    seen = []
    t = lib.zeros(4)
    seen.append(t._version)
    t[...] = 1
    t[0] = 2
    seen.append(t._version)
    t.zero_()
    seen.append(t._version)
    view = t[1:3]
    view[...] = 5  # a view shares its base's counter
    seen += [t._version, view._version, t.reshape(2, 2)._version]
    t.detach()[0] = 1
    seen.append(t._version)
    t.data[...] = 3
    seen.append(t._version)
    seen.append((t * 2)._version)
    p = lib.nn.Parameter(lib.zeros(3, 2))
    lib.nn.init.uniform_(p)
    lib.nn.init.constant_(p, 1.0)
    lib.nn.init.kaiming_uniform_(p)
    seen.append(p._version)
    lin = lib.nn.Linear(3, 2)
    seen.append(lin.weight._version)  # the layer's own initialisation
    lin.load_state_dict(lin.state_dict())
    seen.append(lin.weight._version)
    for name, kwargs in [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {}), ("AdamW", {})]:
        p = lib.nn.Parameter(lib.ones(3))
        opt = getattr(lib.optim, name)([p], **kwargs)
        p.grad = lib.ones(3) if lib is torch else np.ones(3, np.float32)
        opt.step()
        opt.step()
        seen.append(p._version)
    return seen


def test_versions_count_like_torch():
    ours, theirs = _versions(st), _versions(torch)
    assert ours == theirs
    assert ours[:3] == [0, 2, 3]  # setitem twice, then zero_


def test_setitem_on_a_tensor_that_requires_grad_still_raises():
    a = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place assignment"):
        a.zero_()
    assert a._version == 0
    with st.no_grad():
        a.zero_()
    assert a._version == 1
