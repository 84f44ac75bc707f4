"""Datasets, preprocessing, augmentation and batching, in NumPy.

    from striate.data import fashion_mnist, Normalizer, DataLoader, Compose, RandomCrop
    train = fashion_mnist("train")               # uint8 (60000, 1, 28, 28), int64 labels
    norm = Normalizer("channel").fit(train)      # statistics from the training set only
    loader = DataLoader(train, 128, shuffle=True, transform=Compose([RandomCrop(28, 2), norm]),
                        generator=np.random.default_rng(0))
    for images, labels in loader: ...            # float32 (128, 1, 28, 28), int64 (128,)
"""

from .arrays import ArrayDataset, fetch_batch
from .cifar import cifar10, cifar100
from .colour import ColorJitter
from .errors import DatasetError
from .folder import ImageFolder
from .idx import read_idx
from .loader import DataLoader
from .mixing import CutMix, MixedLabels, Mixup, RandomMix
from .mnist import emnist, fashion_mnist, kmnist, mnist
from .normalize import Normalizer
from .registry import dataset_names, get_dataset
from .resample import RandomResizedCrop, RandomRotation, Resize
from .safe_pickle import RestrictedUnpickler, load_pickle
from .split import Subset, random_split, train_val_split
from .transforms import (
    Compose,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomTranslate,
)

__all__ = [
    "ArrayDataset", "ColorJitter", "Compose", "CutMix", "DataLoader", "DatasetError",
    "ImageFolder", "MixedLabels", "Mixup", "Normalizer", "RandomCrop", "RandomErasing",
    "RandomHorizontalFlip", "RandomMix", "RandomResizedCrop", "RandomRotation",
    "RandomTranslate", "Resize",
    "RestrictedUnpickler", "Subset",
    "cifar10", "cifar100", "dataset_names", "emnist", "fashion_mnist", "fetch_batch",
    "get_dataset", "kmnist", "load_pickle", "mnist", "random_split", "read_idx",
    "train_val_split",
]
