"""GoogLeNet as published (Szegedy et al. 2015, "Going deeper with convolutions", Table 1).

What differs from torchvision's form (googlenet.py, same Inception table and key layout):

* every convolution is conv (with bias) → ReLU, no batch norm (``ConvReLU``: keys
  ``conv.weight``, ``conv.bias``);
* the "5×5" branch really is 5×5 (padding 2);
* local response normalisation (size 5, α = 1e-4 averaged over the window, β = 0.75, k = 1, as
  in the reference Caffe model) after the first max pool and after conv3, before the second;
* dropout 0.4 before the classifier;
* the auxiliary heads (``aux_logits=True``, after inception4a and inception4d) are the paper's:
  5×5 average pool with stride 3 (14×14 → 4×4, so they need a 224×224 input), 1×1 conv 128 →
  ReLU, fc 2048-1024 → ReLU, dropout 0.7, fc to the classes.

6,998,552 parameters for 1,000 classes without the auxiliary heads, 13,378,280 with them.  In
training mode with the heads on, ``forward`` returns ``(logits, aux2, aux1)`` in torchvision's
order (its ``GoogLeNetOutputs`` namedtuple); the trainer adds 0.3 × each auxiliary loss, as the
paper weights them.  In eval mode, or without the heads, it returns the logits alone.
Initialisation as the reference Caffe model: Xavier-uniform weights, conv biases 0.2, fc
biases 0 (no batch norm, so the scale of the start matters).
"""

from __future__ import annotations

from typing import Any

from .. import nn
from ..nn import init
from ._init import check_input_size
from .googlenet import Generator, GoogLeNet


class ConvReLU(nn.Module):
    """conv (with bias) → ReLU: the paper's convolution unit."""

    def __init__(self, in_channels: int, out_channels: int, generator: Generator = None,
                 **kwargs: Any):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, generator=generator, **kwargs)
        self.relu = nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.relu(self.conv(x))


class GoogLeNetOriginal(GoogLeNet):
    conv_unit = ConvReLU
    wide = 5

    def aux_pool(self) -> nn.Module:
        return nn.AvgPool2d(5, stride=3)

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.4, dropout_aux: float = 0.7, generator: Generator = None):
        super().__init__(num_classes, in_channels, aux_logits, dropout, dropout_aux, generator)
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def reset_weights(self, generator: Generator = None) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.xavier_uniform_(m.weight, generator=generator)
                init.constant_(m.bias, 0.2 if isinstance(m, nn.Conv2d) else 0.0)

    def stem(self, x: Any) -> Any:
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        return self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))


def googlenet_original(num_classes: int = 1000, in_channels: int = 3,
                       input_size: int | None = None, **kwargs: Any) -> GoogLeNetOriginal:
    """The 2014 GoogLeNet of the paper's Table 1; ``kwargs``: ``aux_logits`` (False),
    ``dropout`` (0.4), ``dropout_aux`` (0.7), ``generator``."""
    check_input_size("googlenet_original", input_size, 15)
    return GoogLeNetOriginal(num_classes, in_channels, **kwargs)
