"""Layers and models: Module, Parameter, containers, and one layer class per functional op."""

from . import functional, init, utils  # noqa: F401
from .activation import (  # noqa: F401
    ELU,
    Gain,
    LeakyReLU,
    LogSoftmax,
    Rectify,
    ReLU,
    Sigmoid,
    SmoothAbs,
    Softmax,
    Softplus,
    Tanh,
)
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .conv import Conv2d, ConvTranspose2d  # noqa: F401
from .linear import Dropout, Dropout2d, Flatten, Identity, Linear  # noqa: F401
from .local import LocallyConnected2d  # noqa: F401
from .loss import (  # noqa: F401
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from .module import Module, Parameter  # noqa: F401
from .norm import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    BrightnessNorm,
    LocalContrastNorm,
    LocalResponseNorm,
)
from .pool import (  # noqa: F401
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    GaussianPool2d,
    LPPool2d,
    MaxPool2d,
)
from .subtractive_norm import SubtractiveNorm2d  # noqa: F401
