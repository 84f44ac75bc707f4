"""Each model family can fit a batch of 8 images: the loss falls 10× in a few dozen steps.

Reduced sizes keep this quick: the small-image models at Fashion-MNIST's 1×28×28 where cheap
(LeNet-5, Jarrett) or at 12×12, MobileNet at 32×32 (its smallest size with 1×1 final maps).
"""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
from striate import optim
from striate.models import get_model
from striate.nn import functional as F

# (model, kwargs, input shape, optimiser, learning rate, steps)
CASES = [
    ("lenet5", {}, (8, 1, 28, 28), "sgd", 0.05, 40),
    ("jarrett", {}, (8, 1, 28, 28), "adam", 3e-3, 40),
    ("resnet20", {"in_channels": 1, "input_size": 12}, (8, 1, 12, 12), "adam", 1e-2, 30),
    ("allconv", {"in_channels": 1, "input_size": 12, "dropout": 0.0, "input_dropout": 0.0},
     (8, 1, 12, 12), "adam", 1e-3, 40),
    ("densenet_bc", {"depth": 10, "growth_rate": 8, "in_channels": 1, "input_size": 12},
     (8, 1, 12, 12), "adam", 1e-2, 30),
    ("mobilenet_v1", {"width_mult": 0.25}, (8, 3, 32, 32), "adam", 1e-2, 30),
]


@pytest.mark.parametrize("name,kwargs,shape,opt,lr,steps", CASES, ids=[c[0] for c in CASES])
def test_overfits_one_batch(name, kwargs, shape, opt, lr, steps):
    st.manual_seed(0)
    rng = np.random.default_rng(0)
    model = get_model(name, num_classes=10, generator=rng, **kwargs)
    x = st.tensor(rng.standard_normal(shape).astype(np.float32))
    y = st.tensor(np.arange(shape[0]) % 10)
    optimiser = (optim.Adam(model.parameters(), lr=lr) if opt == "adam"
                 else optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if losses[-1] < losses[0] / 10:
            break
    assert losses[-1] < losses[0] / 10, f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
