"""Every worked example of the theory pages (docs/theory/*.md), recomputed with the library.

The numbers are read from the pages themselves (the fenced blocks that start with
``# example: NAME``, parsed by docs/figures/worked_examples.py), so a page and its check cannot
drift apart: change a number in a page and this test fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "figures"))
from worked_examples import load_examples  # noqa: E402

EXAMPLES = load_examples()
ATOL = 6e-4  # the pages print four decimals


def close(actual, expected) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64).squeeze(),
                               np.asarray(expected, dtype=np.float64).squeeze(), rtol=0,
                               atol=ATOL)


def t(a, grad: bool = True) -> st.Tensor:
    return st.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def plane(a, grad: bool = True) -> st.Tensor:
    """A 2-D list as one (1, 1, H, W) image."""
    return t(np.array(a, dtype=np.float64)[None, None], grad)


def check_conv(v: dict) -> None:
    x, k = plane(v["x"]), plane(v["k"])
    b = t([v["b"]]) if "b" in v else None
    y = F.conv2d(x, k, b, stride=v.get("stride", 1), padding=v.get("padding", 0))
    close(y.numpy(), v["y"])
    y.backward(st.tensor(np.array(v["g"], dtype=np.float64)[None, None]))
    close(x.grad, v["dx"])
    close(k.grad, v["dk"])
    if b is not None:
        close(b.grad, v["db"])


def check_conv_transpose(v: dict) -> None:
    z, k = plane(v["z"]), plane(v["k"])
    y = F.conv_transpose2d(z, k, stride=v["stride"])
    close(y.numpy(), v["y"])
    if "g" in v:
        y.backward(st.tensor(np.array(v["g"], dtype=np.float64)[None, None]))
        close(z.grad, v["dz"])
        close(k.grad, v["dk"])
        # the input gradient of a transposed convolution is a convolution
        close(F.conv2d(plane(v["g"], False), plane(v["k"], False)).numpy(), v["dz"])


def check_pooling(v: dict) -> None:
    g = st.tensor(np.array(v["g"], dtype=np.float64)[None, None])
    for name, pool in (("max", lambda a: F.max_pool2d(a, 2)), ("avg", lambda a: F.avg_pool2d(a, 2)),
                       ("l2", lambda a: F.lp_pool2d(a, 2, 2))):
        x = plane(v["x"])
        y = pool(x)
        close(y.numpy(), v[f"{name}_y"])
        y.backward(g)
        close(x.grad, v[f"{name}_dx"])


def check_gaussian_pool(v: dict) -> None:
    x = plane(v["x"])
    y = F.gaussian_pool2d(x, 3, sigma=v["sigma"])
    close(y.numpy(), v["y"])
    y.sum().backward()
    close(x.grad, v["dx"])
    close(np.sum(v["dx"]), 1.0)


def check_activations(v: dict) -> None:
    ops = {"relu": F.relu, "leaky": lambda a: F.leaky_relu(a, v["leaky_slope"]),
           "abs": F.rectify, "smooth": lambda a: F.smooth_abs(a, v["smooth_k"]),
           "tanh": F.tanh, "sigmoid": F.sigmoid}
    for name, op in ops.items():
        x = t(v["x"])
        y = op(x)
        close(y.numpy(), v[f"{name}_y"])
        y.sum().backward()
        close(x.grad, v[f"{name}_dx"])


def check_brightness(v: dict) -> None:
    x = t(np.array(v["x"])[None, :, None, None])
    y = F.brightness_norm(x, kappa=v["kappa"], lam=v["lam"], mu=v["mu"], size=None)
    close(y.numpy(), v["y"])
    y.backward(st.tensor(np.array(v["g"], dtype=np.float64)[None, :, None, None]))
    close(x.grad, v["dx"])


def check_lcn(v: dict) -> None:
    x = plane(v["x"])
    y = F.local_contrast_norm(x, kernel_size=v["kernel_size"], sigma=v["sigma"])
    close(y.numpy(), v["y"])
    y.sum().backward()
    close(x.grad, v["dx"])


def check_batch_norm(v: dict) -> None:
    x = t(np.array(v["x"])[:, None])
    gamma, beta = t([v["gamma"]]), t([v["beta"]])
    mean, var = st.tensor(np.zeros(1)), st.tensor(np.ones(1))
    y = F.batch_norm(x, mean, var, gamma, beta, training=True, momentum=v["momentum"], eps=0.0)
    close(y.numpy(), v["y"])
    y.backward(st.tensor(np.array(v["g"])[:, None]))
    close(x.grad, v["dx"])
    close(gamma.grad, v["dgamma"])
    close(beta.grad, v["dbeta"])
    close(mean.numpy(), v["running_mean"])
    close(var.numpy(), v["running_var"])
    x = t(np.array(v["x"])[:, None])
    y = F.batch_norm(x, mean, var, gamma, beta, training=False, eps=0.0)
    close(y.numpy(), v["eval_y"])
    y.backward(st.tensor(np.array(v["g"])[:, None]))
    close(x.grad, v["eval_dx"])


def check_linear_cross_entropy(v: dict) -> None:
    x, w, b = t([v["x"]]), t(v["w"]), t(v["b"])
    z = F.linear(x, w, b)
    close(z.numpy(), v["z"])
    loss = F.cross_entropy(z, st.tensor(np.array([v["target"]])))
    close(float(loss.numpy()), v["loss"])
    p = np.exp(z.numpy() - z.numpy().max())
    close(p / p.sum(), v["p"])
    loss.backward()
    close(x.grad, v["dx"])
    close(w.grad, v["dw"])
    close(b.grad, v["db"])
    close(b.grad, v["dz"])  # ∂L/∂b = ∂L/∂z for one example


def check_mse(v: dict) -> None:
    y_hat = t([v["y_hat"]])
    loss = F.mse_loss(y_hat, st.tensor(np.array([v["t"]], dtype=np.float64)))
    close(float(loss.numpy()), v["loss"])
    loss.backward()
    close(y_hat.grad, v["dy"])


def check_deconvnet(v: dict) -> None:
    from striate.deconvnet import DeconvLayer

    layer = DeconvLayer(1, 1, 2, lam=v["lam"], p=1.0)
    layer.filters = np.array(v["f"], dtype=np.float64)[None, None]
    close(layer.filters, v["f"])  # already of unit norm: the setter changes nothing
    z = np.array(v["z"], dtype=np.float64)[None, None]
    y = np.array(v["y"], dtype=np.float64)[None, None]
    close(layer.reconstruct(z), v["y_hat"])
    close(layer.cost(y, z), v["cost"])
    dz, df = layer.gradient(y, z)
    close(dz, v["dz"])
    close(df, v["df"])


def check_shrinkage(v: dict) -> None:
    from striate.deconvnet.shrink import shrink

    close(shrink(np.array(v["v"]), v["beta"], 1.0), v["p1"])
    close(shrink(np.array(v["v"]), v["beta"], 0.5), v["p_half"])


CHECKS = {
    "conv2d": check_conv,
    "conv2d-strided": check_conv,
    "conv-transpose2d": check_conv_transpose,
    "conv-transpose2d-strided": check_conv_transpose,
    "pooling": check_pooling,
    "gaussian-pool": check_gaussian_pool,
    "activations": check_activations,
    "brightness-norm": check_brightness,
    "local-contrast-norm": check_lcn,
    "batch-norm": check_batch_norm,
    "linear-cross-entropy": check_linear_cross_entropy,
    "mse": check_mse,
    "deconvnet": check_deconvnet,
    "shrinkage": check_shrinkage,
}


def test_every_example_has_a_check_and_every_page_an_example():
    assert set(EXAMPLES) == set(CHECKS)
    pages = {page.name for page, _ in EXAMPLES.values()}
    theory = {p.name for p in (Path(__file__).resolve().parent.parent / "docs" / "theory")
              .glob("*.md")} - {"index.md"}
    assert pages == theory, f"theory pages without a worked example: {theory - pages}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_worked_example(name):
    CHECKS[name](EXAMPLES[name][1])
