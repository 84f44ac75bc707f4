"""Train a small CNN on your own folder of images: one sub-folder per class.

    python docs/tutorials/image_folder.py photos/     # photos/cat/*.jpg, photos/dog/*.png, ...

The command-line equivalent is `striate train --dataset photos/ --image-size 32`.
"""

from __future__ import annotations

import sys

import numpy as np

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from striate.data import DataLoader, ImageFolder, Normalizer, random_split
from striate.optim import Adam


def small_cnn(channels: int, classes: int, size: int) -> nn.Module:
    """Two conv → ReLU → max-pool stages and a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (size // 4) ** 2, classes),
    )


def main(root: str, image_size: int = 32, epochs: int = 5, batch_size: int = 32,
         seed: int = 0) -> float:
    st.manual_seed(seed)
    rng = np.random.default_rng(seed)

    # Every image is decoded on demand and resized to image_size × image_size; grey and colour
    # images may be mixed (mode=None picks RGB as soon as one image is in colour).
    images = ImageFolder(root, size=image_size)
    print(f"{len(images.samples)} images of {images.image_shape}, classes {images.classes}")

    # Hold out a fifth of the images, chosen at random but reproducibly, to measure on.
    n_test = max(1, len(images.samples) // 5)
    train, test = random_split(images, [len(images.samples) - n_test, n_test],
                               seed=seed)
    normalize = Normalizer("channel").fit(train)
    train_loader = DataLoader(train, batch_size, shuffle=True, transform=normalize, generator=rng)
    test_loader = DataLoader(test, batch_size, transform=normalize)

    model = small_cnn(images.channels, images.num_classes, image_size)
    optimizer = Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(st.tensor(x)), st.tensor(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}")

    model.eval()
    correct = 0
    with st.no_grad():
        for x, y in test_loader:
            correct += int((model(st.tensor(x)).numpy().argmax(1) == y).sum())
    print(f"held-out accuracy {correct / n_test:.2%} on {n_test} images")
    return correct / n_test


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "photos")
