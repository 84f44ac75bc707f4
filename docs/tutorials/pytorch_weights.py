"""Move weights between striate and PyTorch, both ways, and check the outputs agree.

    python docs/tutorials/pytorch_weights.py         # needs torch

striate uses PyTorch's parameter names and layouts (NCHW, weights as (out, in, kh, kw)), so a
state_dict moves across as it is.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as tnn

import striate as st
from striate.models import lenet5


class TorchLeNet5(tnn.Module):
    """LeNet-5 written in PyTorch with the attribute names striate's LeNet5 uses."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(400, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(x)))


def main(path: str = "lenet5.safetensors", seed: int = 0) -> float:
    torch.manual_seed(seed)
    images = np.random.default_rng(seed).standard_normal((4, 1, 28, 28)).astype(np.float32)

    # PyTorch → striate: load_state_dict accepts torch tensors directly.
    theirs = TorchLeNet5().eval()
    ours = lenet5().eval()
    print("same keys:", sorted(ours.state_dict()) == sorted(theirs.state_dict()))
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad(), st.no_grad():
        a = theirs(torch.from_numpy(images)).numpy()
        b = ours(st.tensor(images)).numpy()
    gap = float(np.abs(a - b).max())
    print(f"PyTorch → striate: largest difference in the logits {gap:.1e}")

    # striate → PyTorch: state_dict() holds NumPy arrays, which torch.from_numpy takes; or
    # through a safetensors file, which PyTorch's own tools read (st.save never writes a pickle).
    st.manual_seed(seed + 1)
    ours = lenet5().eval()  # fresh weights, to be copied into PyTorch this time
    theirs.load_state_dict({k: torch.from_numpy(np.array(v))
                            for k, v in ours.state_dict().items()})
    st.save(ours.state_dict(), path)
    again = lenet5().eval()
    again.load_state_dict(st.load(path))
    with torch.no_grad(), st.no_grad():
        a = theirs(torch.from_numpy(images)).numpy()
        b = again(st.tensor(images)).numpy()
    gap = max(gap, float(np.abs(a - b).max()))
    print(f"striate → PyTorch (and back from {path}): "
          f"largest difference {np.abs(a - b).max():.1e}")
    assert gap < 1e-4
    return gap


if __name__ == "__main__":
    main()
