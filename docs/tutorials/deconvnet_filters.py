"""Learn a one-layer Deconvolutional Network on Fashion-MNIST and look at its filters.

    python docs/tutorials/deconvnet_filters.py       # writes deconvnet_filters.png

Each image is explained as a sum of sparse feature maps convolved with the filters; the maps are
inferred by optimisation and the filters learned with the maps fixed (docs/theory/deconvnet.md).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from striate.data import get_dataset  # noqa: E402
from striate.deconvnet import DeconvLayer  # noqa: E402


def main(data_dir: str | None = None, images: int = 64, maps: int = 9, epochs: int = 2,
         out: str = "deconvnet_filters.png", seed: int = 0,
         dataset: str = "fashion-mnist") -> dict:
    # Pixels in [0, 1], each image's mean removed: the layer explains structure, not brightness.
    data = get_dataset(dataset, "train", data_dir).images[:images].astype(np.float64) / 255.0
    y = data - data.mean(axis=(2, 3), keepdims=True)

    layer = DeconvLayer(in_channels=1, num_maps=maps, kernel_size=7, lam=1.0, p=1.0, seed=seed)
    costs = layer.fit(y, epochs=epochs, batch_size=32, progress=False)
    print("cost per epoch:", [round(c, 2) for c in costs])

    # What the maps of a few images look like, and how well they rebuild the images.
    z = layer.infer(y[:8])
    rebuilt = layer.reconstruct(z)
    error = float(np.linalg.norm(rebuilt - y[:8]) / np.linalg.norm(y[:8]))
    zeros = float(np.mean(np.abs(z) < 1e-6))
    print(f"relative reconstruction error {error:.2f}, {zeros:.0%} of the map pixels are zero")

    # The filters: (C, M, k, k), one plane per map for a grey input.
    filters = layer.filters[0]
    fig, axes = plt.subplots(1, maps, figsize=(1.2 * maps, 1.4))
    for ax, f in zip(np.atleast_1d(axes), filters, strict=True):
        ax.imshow(f, cmap="gray")
        ax.axis("off")
    fig.suptitle("learned 7×7 filters")
    fig.savefig(out, dpi=80, bbox_inches="tight")
    plt.close(fig)
    print("filters drawn in", out)
    return {"costs": costs, "error": error, "zeros": zeros}


if __name__ == "__main__":
    main()
