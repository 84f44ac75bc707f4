"""Seed 001's worked example ("An Example of CNN"), built with striate, and the gradients the
slides derive by hand checked against striate's autograd.

The network of the slides: one input map Y⁽⁰⁾; layer 1 convolves it with three kernels K_i1
(plus biases) and applies a ReLU; layer 2 max-pools 2×2; layers 3–4 repeat this with nine
kernels K_fj⁽³⁾ and a ReLU and a 2×2 max pool, giving Y⁽⁴⁾; one fully connected neuron
z⁽⁵⁾ = Σ_k Σ_{r,s} w_{r,s,k} (Y_k⁽⁴⁾)_{r,s}, y⁽⁶⁾ = ReLU(z⁽⁵⁾), and L = ½ (y⁽⁶⁾ − t)².

The slides' hand derivation (their "Deriving w_{r,s,k}" and "Deriving the Kernel Filters"):

    ∂L/∂w_{r,s,k}      = (y − t) · f'(z) · (Y_k⁽⁴⁾)_{r,s}
    ∂L/∂(K_fj⁽³⁾)_{k,t} = (y − t) · f'(z)
                          · Σ_{(x,y)} w_{x',y',f} · f'((Y_f⁽³⁾)_{x,y}) · (Y_j⁽²⁾)_{x−k, y−t}

where the sum runs over the position (x, y) that won each 2×2 pooling window (x', y') ("we go
directly for the max term") and the slides' convolution is a true one over centred kernel
indices k, t ∈ [−h, h]: (Y_f⁽³⁾)_{x,y} = B_f + Σ_j Σ_{k,t} (K_fj)_{k,t} (Y_j⁽²⁾)_{x−k, y−t}.
The seed gives no numbers, so the test draws them (seeded).  The slides take the sum over j = 1
only; the same formula holds for every input map j and the test checks them all.
"""

from __future__ import annotations

import numpy as np

import striate as st
import striate.nn.functional as F

H = 1  # kernels are (2H + 1) × (2H + 1), indices −H..H as on the slides


def _conv_slides(y_in, kernels, bias):
    """(Y_f)_{x,y} = B_f + Σ_j Σ_{k,t=−H..H} (K_fj)_{k,t} (Y_j)_{x−k, y−t}, over the positions
    (x, y) where every x − k, y − t falls inside the input (indices shifted to start at 0)."""
    n_out, n_in = kernels.shape[:2]
    rows, cols = y_in.shape[1] - 2 * H, y_in.shape[2] - 2 * H
    out = np.zeros((n_out, rows, cols))
    for f in range(n_out):
        out[f] = bias[f]
        for j in range(n_in):
            for k in range(-H, H + 1):
                for t in range(-H, H + 1):
                    # output position x ↔ input row x + H; the input row read is x + H − k
                    out[f] += kernels[f, j, k + H, t + H] * \
                        y_in[j, H - k:H - k + rows, H - t:H - t + cols]
    return out


def _max_pool_with_winners(a):
    """2×2 max pool of (C, R, S), and for each pooled (c, x', y') the winning (x, y)."""
    c, r, s = a.shape
    windows = a[:, :r // 2 * 2, :s // 2 * 2].reshape(c, r // 2, 2, s // 2, 2)
    windows = windows.transpose(0, 1, 3, 2, 4).reshape(c, r // 2, s // 2, 4)
    arg = windows.argmax(axis=-1)
    xs = 2 * np.arange(r // 2)[None, :, None] + arg // 2
    ys = 2 * np.arange(s // 2)[None, None, :] + arg % 2
    return windows.max(axis=-1), xs, ys


def test_seed001_worked_example_gradients_match_the_slides():
    rng = np.random.default_rng(2024)
    y0 = rng.standard_normal((1, 14, 14))
    k1, b1 = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3) * 0.1
    k3, b3 = rng.standard_normal((9, 3, 3, 3)) * 0.5, rng.standard_normal(9) * 0.1
    w5 = rng.standard_normal((9, 2, 2))  # w_{r,s,k} stored as [k, r, s]
    w5[0] = np.abs(w5[0]) + 1.0  # with Y⁽⁴⁾ ≥ 0, this keeps the output neuron active
    target = -1.0

    # --- the slides' forward and hand-derived gradients, in NumPy --------------------------------
    y1 = np.maximum(_conv_slides(y0, k1, b1), 0)           # layer 1: conv + ReLU (3 maps)
    y2, _, _ = _max_pool_with_winners(y1)                  # layer 2: 2×2 max pool, 6×6
    y3 = _conv_slides(y2, k3, b3)                          # layer 3: conv (9 maps), 4×4
    y4, wx, wy = _max_pool_with_winners(np.maximum(y3, 0))  # layer 4: ReLU, 2×2 max pool
    z = float((w5 * y4).sum())
    assert z > 0, "the numbers must keep the output neuron active (else every gradient is 0)"
    y = max(z, 0.0)
    delta = (y - target) * (1.0 if z > 0 else 0.0)         # (y − t) · f'(z)
    grad_w5 = delta * y4

    grad_k3 = np.zeros_like(k3)
    for f in range(9):
        for xp in range(2):
            for yp in range(2):
                x, yy = wx[f, xp, yp], wy[f, xp, yp]
                active = 1.0 if y3[f, x, yy] > 0 else 0.0  # f'((Y_f⁽³⁾)_{x,y})
                for k in range(-H, H + 1):
                    for t in range(-H, H + 1):
                        # (Y_j⁽²⁾)_{x−k, y−t}, in the shifted indices of _conv_slides
                        patch = y2[:, x + H - k, yy + H - t]
                        grad_k3[f, :, k + H, t + H] += delta * w5[f, xp, yp] * active * patch

    # --- the same network in striate ------------------------------------------------------------
    # striate's conv2d is a cross-correlation: the slides' kernel K is striate's weight rotated
    # by 180° (weight[p, q] = K[H − p, H − q]).
    def flip(k):
        return np.ascontiguousarray(k[:, :, ::-1, ::-1])

    x = st.tensor(y0[None])
    c1, c3 = st.tensor(flip(k1), requires_grad=True), st.tensor(flip(k3), requires_grad=True)
    w = st.tensor(w5.reshape(1, -1), requires_grad=True)
    h = F.max_pool2d(F.relu(F.conv2d(x, c1, st.tensor(b1))), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, c3, st.tensor(b3))), 2)
    out = F.relu(F.linear(h.flatten(1), w))
    loss = 0.5 * ((out - target) ** 2).sum()
    loss.backward()

    assert np.allclose(h.numpy()[0], y4, rtol=1e-12, atol=1e-12)
    assert abs(out.item() - y) < 1e-12
    assert np.allclose(np.asarray(w.grad).reshape(9, 2, 2), grad_w5, rtol=1e-12, atol=1e-12)
    assert np.allclose(flip(np.asarray(c3.grad)), grad_k3, rtol=1e-10, atol=1e-12)
    assert np.abs(grad_k3).max() > 0  # the check is not vacuous
