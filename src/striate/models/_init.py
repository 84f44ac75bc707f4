"""Weight initialisation shared by the model builders (torchvision's schemes, one generator).

Layers start with PyTorch's default init; most architectures then overwrite it as torchvision
does.  Keeping the schemes here means each model names its scheme instead of repeating loops.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import init

Generator = np.random.Generator | None


def init_weights(model: nn.Module, conv_mode: str | None = "fan_out",
                 linear_std: float | None = None, zero_bias: bool = True,
                 generator: Generator = None) -> None:
    """Re-initialise ``model`` in place.

    conv weights ~ kaiming_normal_(mode=conv_mode, relu) (left alone when ``conv_mode`` is None);
    BatchNorm γ = 1, β = 0; Linear weights ~ N(0, linear_std²) when ``linear_std`` is given;
    conv and Linear biases = 0 when ``zero_bias``.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and conv_mode is not None:
            init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu",
                                 generator=generator)
            if m.bias is not None and zero_bias:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if m.weight is not None:
                init.ones_(m.weight)
                init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is not None:
                init.normal_(m.weight, 0.0, linear_std, generator)
            if m.bias is not None and zero_bias:
                init.zeros_(m.bias)


def check_size(model: str, name: str, value: int, minimum: int = 1) -> int:
    """ValueError naming the model unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{model}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def check_input_size(model: str, input_size: int | None, minimum: int) -> int | None:
    """For models that take any size above a minimum (adaptive pooling): None, or a size that
    the layers can reduce without running out of pixels."""
    if input_size is None:
        return None
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < minimum:
        raise ValueError(f"{model}: input_size must be an int >= {minimum} (the smallest image "
                         f"its pooling stages can reduce), got {input_size!r}")
    return input_size
