"""The zoo models the ONNX tests export, each built and exported once per process."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from striate.models import get_model, list_models

# The deeper VGGs repeat vgg11's layers at ~130M parameters each (15–25 s apiece to build,
# export and check), resnet101/152 resnet50's blocks; STRIATE_ONNX_ALL=1 runs them too.
SLOW = {"vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet101",
        "resnet152"}
SIZES = {"alexnet": 63, "alexnet_original": 67, "densenet121": 29, "lenet5": 28, "jarrett": 28}
KWARGS = {"densenet_bc": {"depth": 10, "growth_rate": 4}}


def zoo_names() -> list[str]:
    everything = os.environ.get("STRIATE_ONNX_ALL") == "1"
    return [n for n in list_models() if everything or n not in SLOW]


def channels(name: str) -> int:
    return 1 if name in ("lenet5", "jarrett") else 3


def example(name: str, batch: int, seed: int) -> np.ndarray:
    size = SIZES.get(name, 32)
    shape = (batch, channels(name), size, size)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _folder() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="striate-onnx-"))


def exported(name: str):
    """(model in eval mode, path of its ONNX file exported at batch 1)."""
    from striate.interop.onnx import export

    model = get_model(name, num_classes=10, in_channels=channels(name),
                      input_size=SIZES.get(name, 32), **KWARGS.get(name, {})).eval()
    return model, export(model, example(name, 1, 0), _folder() / f"{name}.onnx")


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got − want| / max(1, max |want|): deep nets with random weights reach large
    outputs, where float32 allows proportionally larger differences."""
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
