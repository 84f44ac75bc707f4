"""Fixtures every test folder shares."""

from train.conftest import tiny_fmnist  # noqa: F401  (Fashion-MNIST's four files, tiny)
