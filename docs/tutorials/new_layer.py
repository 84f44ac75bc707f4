"""Write a new layer with its own backward, and check the backward against central differences.

    python docs/tutorials/new_layer.py

The layer is the softsign, y = x / (1 + |x|). Its derivative, by the quotient rule:
dy/dx = ((1 + |x|) − x · sgn(x)) / (1 + |x|)² = 1 / (1 + |x|)², since x · sgn(x) = |x|.
"""

from __future__ import annotations

import numpy as np

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from striate.function import Function
from striate.testing import Case, check_case, numerical_gradients


class SoftsignFunction(Function):
    """y = x / (1 + |x|);  ∂L/∂x = g / (1 + |x|)²."""

    @staticmethod
    def forward(ctx, x):
        d = 1 + np.abs(x)  # forward and backward see raw NumPy arrays
        ctx.save_for_backward(d)  # what backward needs, kept from the forward pass
        return x / d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return g / (d * d)  # one gradient per input of forward


def softsign(x):
    """The function users call: Function.apply records the op on the graph."""
    return SoftsignFunction.apply(x)


class Softsign(nn.Module):
    """The layer, for nn.Sequential."""

    def forward(self, x):
        return softsign(x)


def main(seed: int = 0) -> float:
    # 1. The gradient check: a random upstream gradient G, L = Σ G ⊙ f(x), and ∂L/∂x from
    #    backward() against (L(x + ε) − L(x − ε)) / 2ε, entry by entry, in float64. Inputs are
    #    kept away from 0, where |x| has a kink that central differences would straddle.
    case = Case(op="softsign", config="5×7", fn=softsign,
                make_inputs=lambda rng: [np.sign(rng.standard_normal((5, 7)))
                                         * rng.uniform(0.1, 3.0, (5, 7))])
    error = check_case(case, seed=seed)
    print(f"relative error of the backward against central differences: {error:.1e}")
    assert error < 1e-6

    # The same by hand, to see the two side by side for one entry.
    x = np.array([[-2.0, -0.5, 0.5, 2.0]])
    upstream = np.ones_like(x)
    (numerical,) = numerical_gradients(softsign, [x], upstream)
    xt = st.tensor(x, requires_grad=True)
    softsign(xt).sum().backward()
    print("backward:", xt.grad.round(6), " central differences:", numerical.round(6))

    # 2. The new layer trains like any other: a tiny regression with it in the middle.
    st.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), Softsign(), nn.Linear(8, 1))
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((64, 3))
    targets = np.tanh(inputs @ np.array([[1.0], [-2.0], [0.5]]))
    xb = st.tensor(inputs.astype(np.float32))
    yb = st.tensor(targets.astype(np.float32))
    for step in range(200):
        loss = F.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in (0, 199):
            print(f"step {step}: loss {loss.item():.4f}")
    return error


if __name__ == "__main__":
    main()
