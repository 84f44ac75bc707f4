"""Classic CNN architectures built from ``striate.nn`` layers, with PyTorch's key names.

Every builder takes ``num_classes`` and ``in_channels``; the small-image ones (``lenet5``,
``resnet20``…``resnet110``, ``densenet_bc``, ``allconv``, ``jarrett``) also take ``input_size``.
The ImageNet ones accept ``input_size`` too (their adaptive pooling takes any size above a
minimum, which it checks), so every model can be built as
``get_model(name, num_classes=..., in_channels=..., input_size=...)``.
``get_model(name, **kwargs)`` builds one by name and ``list_models()`` lists the names;
``default_input_size(name)`` and ``default_in_channels(name)`` give a model's native input.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .. import nn
from .alexnet import AlexNet, AlexNetOriginal, alexnet, alexnet_original
from .allconv import AllConvNet, allconv
from .densenet import DenseNet, densenet121, densenet_bc
from .googlenet import GoogLeNet, googlenet
from .googlenet_original import GoogLeNetOriginal, googlenet_original
from .jarrett import Jarrett, jarrett
from .lenet import LeNet5, lenet5
from .mobilenet import MobileNetV1, mobilenet_v1
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .resnet_cifar import CifarResNet, resnet20, resnet32, resnet44, resnet56, resnet110
from .vgg import (
    VGG,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    f.__name__: f for f in (
        lenet5, alexnet, vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn,
        googlenet, resnet18, resnet34, resnet50, resnet101, resnet152, resnet20, resnet32,
        resnet44, resnet56, resnet110, densenet121, densenet_bc, mobilenet_v1, allconv, jarrett,
        alexnet_original, googlenet_original,
    )
}


def list_models() -> list[str]:
    """The names ``get_model`` accepts, sorted."""
    return sorted(_REGISTRY)


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model called ``name`` (e.g. ``get_model('resnet20', in_channels=1)``)."""
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"get_model: unknown model {name!r}; available: "
                         f"{', '.join(list_models())}") from None
    return builder(**kwargs)


IMAGENET_SIZE = 224


def _default(name: str, arg: str) -> int | None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return inspect.signature(_REGISTRY[name]).parameters[arg].default


def default_input_size(name: str) -> int:
    """The input height = width a model is designed for: its builder's ``input_size`` default,
    or 224 for the ImageNet models (which take ``input_size=None``)."""
    size = _default(name, "input_size")
    return IMAGENET_SIZE if size is None else size


def default_in_channels(name: str) -> int:
    """The builder's ``in_channels`` default (1 for LeNet-5 and Jarrett's net, else 3)."""
    return _default(name, "in_channels")


__all__ = [
    "get_model", "list_models", "default_input_size", "default_in_channels", *_REGISTRY,
    "AlexNet", "AlexNetOriginal", "AllConvNet", "CifarResNet", "DenseNet", "GoogLeNet",
    "GoogLeNetOriginal", "Jarrett", "LeNet5",
    "MobileNetV1", "ResNet", "VGG",
]
