"""How much a learned Deconvolutional Network's maps help a linear classifier: logistic
regression (striate's ``nn.Linear``, ``F.cross_entropy`` and Adam) on the max-pooled |z| of
layer 1, and of layers 1 and 2, against the same classifier on the normalised pixels.

    striate deconvnet train --dataset fashion-mnist --limit 2000 --out runs/d
    python benchmarks/deconvnet_features.py runs/d --limit 3000 --test-limit 1000

The maps of every training and test image are inferred with the run's filters (the slow part:
its time is printed); the classifier sees each feature standardised with the training set's
statistics.  The same seed, epochs and learning rate serve every feature set.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import striate as st
from striate.commands.deconvnet import load_images, normalize
from striate.deconvnet import DeconvNet
from striate.deconvnet.checkpoint import load_deconvnet
from striate.nn import Linear
from striate.nn import functional as F
from striate.optim import Adam


def pooled(z: np.ndarray, size: int) -> np.ndarray:
    """max |z| over non-overlapping size × size windows (the ragged border dropped), flattened
    per image: a map's activity, located to a window, without its sign."""
    n, m, h, w = z.shape
    h, w = h // size * size, w // size * size
    a = np.abs(z[:, :, :h, :w]).reshape(n, m, h // size, size, w // size, size)
    return a.max(axis=(3, 5)).reshape(n, -1)


def map_features(net, images: np.ndarray, size: int, batch: int) -> list[np.ndarray]:
    """Per layer of ``net``, the pooled maps of ``images``, inferred ``batch`` at a time."""
    from tqdm.auto import tqdm

    chunks = []
    for start in tqdm(range(0, len(images), batch), desc="maps", unit="batch", leave=False):
        chunks.append([pooled(np.asarray(z), size) for z in net.infer(images[start:start + batch])])
    return [np.concatenate(layer) for layer in zip(*chunks, strict=True)]


def logistic_accuracy(train: np.ndarray, labels: np.ndarray, test: np.ndarray,
                      test_labels: np.ndarray, epochs: int, lr: float, seed: int) -> float:
    """Test accuracy of softmax regression trained with Adam on standardised features."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    x, xt = ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)
    st.manual_seed(seed)
    model = Linear(x.shape[1], int(max(labels.max(), test_labels.max())) + 1)
    optimizer = Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 128):
            picked = order[start:start + 128]
            loss = F.cross_entropy(model(st.tensor(x[picked])), st.tensor(labels[picked]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with st.no_grad():
        predicted = model(st.tensor(xt)).numpy().argmax(axis=1)
    return float((predicted == test_labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a deconvnet run folder or checkpoint")
    parser.add_argument("--dataset", default=None, help="default: the run's")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=3000, help="training images")
    parser.add_argument("--test-limit", type=int, default=1000, help="test images")
    parser.add_argument("--pool", type=int, default=4, help="pooling window of the maps")
    parser.add_argument("--epochs", type=int, default=30, help="classifier epochs")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=100, help="images per inference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=2, choices=(1, 2),
                        help="1: layer-1 features only (layer 2's inference is the slow part)")
    args = parser.parse_args()

    checkpoint = load_deconvnet(args.run)
    meta = checkpoint.meta
    net = DeconvNet(checkpoint.net.layers[:args.layers], pool=checkpoint.net.pool)
    dataset = args.dataset or meta["dataset"]
    data_dir = args.data_dir or meta["train"].get("data_dir")
    sets = {}
    for split, limit in (("train", args.limit), ("test", args.test_limit)):
        pixels, labels, _ = load_images(dataset, split, limit, data_dir)
        images = normalize(pixels, meta["normalization"])
        started = time.perf_counter()
        maps = map_features(net, images, args.pool, args.batch)
        print(f"{split}: {len(images)} images, maps inferred in "
              f"{time.perf_counter() - started:.1f} s")
        features = {"pixels": images.reshape(len(images), -1), "layer 1": maps[0]}
        if len(maps) > 1:
            features["layers 1+2"] = np.concatenate(maps[:2], axis=1)
        sets[split] = features, labels
    (train, labels), (test, test_labels) = sets["train"], sets["test"]
    for name in train:
        accuracy = logistic_accuracy(train[name], labels, test[name], test_labels, args.epochs,
                                     args.lr, args.seed)
        print(f"{name:>11}: {train[name].shape[1]:5d} features, test accuracy {accuracy:.2%}")


if __name__ == "__main__":
    main()
