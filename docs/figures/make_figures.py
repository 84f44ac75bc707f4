"""Draw the theory pages' figures (docs/figures/*.png) from the worked examples and the library.

    python docs/figures/make_figures.py

Needs matplotlib. The numbers in the convolution, transposed-convolution and pooling figures are
read from the pages' worked examples (worked_examples.py), so a figure shows what its page says.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from worked_examples import load_examples  # noqa: E402

import striate as st  # noqa: E402
import striate.nn.functional as F  # noqa: E402

OUT = Path(__file__).resolve().parent
DPI = 80


def grid(ax, a, title, shade=None, shade_color="#ffd27f", fmt="{:g}"):
    """Draw array ``a`` as a table of numbers; ``shade`` is a boolean mask of cells to colour."""
    a = np.asarray(a, dtype=float)
    h, w = a.shape
    for i in range(h):
        for j in range(w):
            colour = shade_color if shade is not None and shade[i, j] else "white"
            ax.add_patch(plt.Rectangle((j, h - 1 - i), 1, 1, facecolor=colour, edgecolor="black"))
            ax.text(j + 0.5, h - 0.5 - i, fmt.format(round(a[i, j], 2)), ha="center",
                    va="center", fontsize=11)
    ax.set_xlim(-0.1, w + 0.1)
    ax.set_ylim(-0.1, h + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)


def mask(shape, rows, cols):
    m = np.zeros(shape, bool)
    m[rows, cols] = True
    return m


def save(fig, name):
    fig.savefig(OUT / name, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print("wrote", OUT / name)


def conv_figures(ex):
    v = ex["conv2d"][1]
    x, k, y, g = (np.array(v[n], float) for n in ("x", "k", "y", "g"))
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.4), gridspec_kw={"width_ratios": [3, 2, 2]})
    grid(axes[0], x, "input X (window of Y₀₀)", mask(x.shape, slice(0, 2), slice(0, 2)))
    grid(axes[1], k, "kernel K")
    grid(axes[2], y, f"Y = X ⋆ K + {v['b']:g}", mask(y.shape, 0, 0))
    save(fig, "conv_forward.png")

    padded = np.pad(g, 1)
    rot = k[::-1, ::-1]
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.6), gridspec_kw={"width_ratios": [4, 2, 3]})
    grid(axes[0], padded, "G padded by k − 1", mask(padded.shape, slice(1, 3), slice(1, 3)),
         shade_color="#cfe3ff")
    grid(axes[1], rot, "K rotated 180°")
    grid(axes[2], np.array(v["dx"], float), "∂L/∂X = Gpad ⋆ rot K",
         mask((3, 3), 1, 1))
    save(fig, "conv_backward.png")


def transposed_figure(ex):
    v = ex["conv-transpose2d-strided"][1]
    z, k, y = (np.array(v[n], float) for n in ("z", "k", "y"))
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.6), gridspec_kw={"width_ratios": [2, 2, 4]})
    grid(axes[0], z, "input Z", mask(z.shape, 0, 1))
    grid(axes[1], k, "kernel K")
    grid(axes[2], y, "Y: Z₀₁ · K lands at rows 0–1, cols 2–3", mask(y.shape, slice(0, 2),
                                                                   slice(2, 4)))
    save(fig, "transposed_conv.png")


def pooling_figure(ex):
    v = ex["pooling"][1]
    x = np.array(v["x"], float)
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.8), gridspec_kw={"width_ratios": [4, 2, 4, 4]})
    grid(axes[0], x, "input X (2×2 windows)", np.array(v["max_dx"]) != 0)
    grid(axes[1], np.array(v["g"], float), "upstream G")
    grid(axes[2], np.array(v["max_dx"], float), "max: ∂L/∂X", np.array(v["max_dx"]) != 0)
    grid(axes[3], np.array(v["avg_dx"], float), "average: ∂L/∂X", shade_color="#cfe3ff",
         shade=np.ones((4, 4), bool))
    for ax in axes[[0, 2, 3]]:
        ax.plot([2, 2], [0, 4], color="red", lw=2)
        ax.plot([0, 4], [2, 2], color="red", lw=2)
    save(fig, "pooling.png")


def activation_figure():
    x = np.linspace(-3, 3, 601)
    fns = {"ReLU": F.relu, "leaky ReLU (a = 0.1)": lambda a: F.leaky_relu(a, 0.1),
           "|x| (rectify)": F.rectify, "smooth |x| (k = 2)": lambda a: F.smooth_abs(a, 2.0),
           "tanh": F.tanh}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, fn in fns.items():
        xt = st.tensor(x.copy(), requires_grad=True)
        y = fn(xt)
        y.sum().backward()
        axes[0].plot(x, y.numpy(), label=name)
        axes[1].plot(x, xt.grad, label=name)
    axes[0].set_title("f(x)")
    axes[1].set_title("f′(x), what backward multiplies G by")
    for ax in axes:
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save(fig, "activations.png")


def lcn_figure():
    h = w = 48
    r, c = np.mgrid[0:h, 0:w]
    pattern = np.sign(np.sin(c / 2.0)) * 0.5 + 0.5 * ((r // 12 + c // 12) % 2)
    light = np.linspace(0.1, 2.0, w)[None, :] * np.linspace(0.3, 1.0, h)[:, None]
    image = (pattern + 1.0) * light
    y = F.local_contrast_norm(st.tensor(image[None, None]), kernel_size=9).numpy()[0, 0]
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("input: uneven light")
    axes[1].imshow(y, cmap="gray")
    axes[1].set_title("after LCN, 9×9 window")
    for ax in axes:
        ax.axis("off")
    save(fig, "lcn.png")


def shrinkage_figure():
    from striate.deconvnet.shrink import shrink

    v = np.linspace(-2, 2, 801)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(v, v, color="grey", lw=0.8, ls="--", label="x = v")
    ax.plot(v, shrink(v, 2.0, 1.0), label="p = 1 (soft threshold)")
    ax.plot(v, shrink(v, 2.0, 0.5), label="p = 1/2")
    ax.set_xlabel("v (pixel of z)")
    ax.set_ylabel("x")
    ax.set_title("argmin β/2 (x − v)² + |x|^p,  β = 2")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "shrinkage.png")


def main() -> None:
    ex = load_examples()
    conv_figures(ex)
    transposed_figure(ex)
    pooling_figure(ex)
    activation_figure()
    lcn_figure()
    shrinkage_figure()


if __name__ == "__main__":
    main()
