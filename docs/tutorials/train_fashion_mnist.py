"""Train LeNet-5 on Fashion-MNIST from Python, with the library's parts laid out one by one.

    python docs/tutorials/train_fashion_mnist.py            # 3 epochs on the whole set

`striate train` does the same and more (validation split, schedules, checkpoints, plots); this
script shows what happens inside a training step.
"""

from __future__ import annotations

import numpy as np

import striate as st
import striate.nn.functional as F
from striate.data import ArrayDataset, DataLoader, Normalizer, get_dataset
from striate.models import lenet5
from striate.optim import SGD


def first(dataset: ArrayDataset, n: int | None) -> ArrayDataset:
    """The first ``n`` images of a dataset (all of them for None): for a quick run."""
    if n is None:
        return dataset
    return ArrayDataset(dataset.images[:n], dataset.labels[:n], dataset.classes)


def accuracy(model, loader: DataLoader) -> float:
    """The share of images whose highest score is their label."""
    model.eval()  # dropout off, batch norm on its running statistics
    correct = total = 0
    with st.no_grad():  # no graph: faster, and nothing is kept for a backward
        for images, labels in loader:
            scores = model(st.tensor(images)).numpy()
            correct += int((scores.argmax(axis=1) == labels).sum())
            total += len(labels)
    model.train()
    return correct / total


def main(data_dir: str | None = None, epochs: int = 3, limit: int | None = None,
         batch_size: int = 128, lr: float = 0.05, seed: int = 0,
         dataset: str = "fashion-mnist") -> float:
    st.manual_seed(seed)  # the weights' initialisation
    rng = np.random.default_rng(seed)  # the order of the batches

    # 1. The data: uint8 images (N, 1, 28, 28) and int64 labels. Found where Debian's
    #    dataset-fashion-mnist package puts it, in data_dir, or downloaded once (and checked
    #    against its published SHA-256). "mnist", "kmnist" and "cifar10" work the same way.
    train = first(get_dataset(dataset, "train", data_dir), limit)
    test = first(get_dataset(dataset, "test", data_dir), limit)
    print(f"{len(train.labels)} training and {len(test.labels)} test images, "
          f"classes: {', '.join(train.classes or [])}")

    # 2. Standardise with the training set's mean and standard deviation (never the test set's).
    normalize = Normalizer("channel").fit(train)
    train_loader = DataLoader(train, batch_size, shuffle=True, transform=normalize, generator=rng)
    test_loader = DataLoader(test, 500, transform=normalize)

    # 3. The model and the optimiser, as in PyTorch.
    model = lenet5(num_classes=10)
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)

    # 4. The loop: forward, loss, backward (every layer's hand-written backward runs here), step.
    for epoch in range(epochs):
        total, batches = 0.0, 0
        for images, labels in train_loader:
            loss = F.cross_entropy(model(st.tensor(images)), st.tensor(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        print(f"epoch {epoch + 1}: training loss {total / batches:.3f}, "
              f"test accuracy {accuracy(model, test_loader):.2%}")
    return accuracy(model, test_loader)


if __name__ == "__main__":
    main()
