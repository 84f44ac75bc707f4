"""Cases for conv2d and conv_transpose2d: odd sizes, strides that do not divide the padded size,
non-square kernels, dilation, groups (depthwise, channel multipliers), 'same' padding with an even
kernel, output padding, batch 1 and unbatched input.  Each case differentiates input, weight and
bias together and stays at a few hundred elements."""

from __future__ import annotations

from ...ops.conv import conv2d, conv2d_relu, conv_transpose2d
from ..gradcheck import Case


def _conv(config: str, x_shape, w_shape, bias: bool = True, **kw) -> Case:
    def make(rng):
        arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
        return arrays + [rng.standard_normal(w_shape[0])] if bias else arrays
    return Case("conv2d", config, lambda x, w, b=None: conv2d(x, w, b, **kw), make)


def _conv_relu(config: str, x_shape, w_shape, **kw) -> Case:
    """conv2d with its ReLU in the epilogue (``nn.utils.fuse`` in training, no BN)."""
    def make(rng):
        return [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
                rng.standard_normal(w_shape[0])]
    return Case("conv2d_relu", config, lambda x, w, b: conv2d_relu(x, w, b, **kw), make)


def _convt(config: str, x_shape, w_shape, bias: bool = True, **kw) -> Case:
    out_channels = w_shape[1] * kw.get("groups", 1)

    def make(rng):
        arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
        return arrays + [rng.standard_normal(out_channels)] if bias else arrays
    return Case("conv_transpose2d", config,
                lambda x, w, b=None: conv_transpose2d(x, w, b, **kw), make)


CASES = [
    _conv("3x3 no padding", (2, 2, 5, 5), (3, 2, 3, 3)),
    _conv("3x2 kernel, padding (1,0), odd 7x5", (1, 2, 7, 5), (2, 2, 3, 2), padding=(1, 0)),
    _conv("stride 2 not dividing 6+2", (2, 2, 6, 6), (2, 2, 3, 3), stride=2, padding=1),
    _conv("stride 3, 7x7, padding 1", (1, 3, 7, 7), (2, 3, 2, 2), stride=3, padding=1),
    _conv("stride (2,3), padding (0,2)", (2, 1, 7, 6), (3, 1, 3, 2), stride=(2, 3),
          padding=(0, 2)),
    _conv("dilation 2", (1, 2, 7, 7), (2, 2, 3, 3), dilation=2, padding=1),
    _conv("dilation (2,1) stride 2", (2, 2, 7, 6), (2, 2, 2, 3), dilation=(2, 1), stride=2),
    _conv("groups 2", (2, 4, 5, 5), (4, 2, 3, 3), groups=2, padding=1),
    _conv("depthwise 3 channels", (2, 3, 5, 6), (3, 1, 3, 3), groups=3, padding=1),
    _conv("depthwise multiplier 2", (1, 2, 6, 5), (4, 1, 3, 2), groups=2, stride=2),
    _conv("batch 1, 1x1 kernel, padding 1", (1, 3, 4, 4), (2, 3, 1, 1), padding=1),
    _conv("1x1 on a 9x8 plane (one GEMM per image)", (2, 3, 9, 8), (4, 3, 1, 1)),
    _conv("no bias", (2, 2, 5, 4), (2, 2, 3, 3), bias=False, padding=(1, 2)),
    _conv("'same' even kernel 4x2", (1, 2, 6, 5), (2, 2, 4, 2), padding="same"),
    _conv("'same' dilation 2", (1, 2, 5, 5), (2, 2, 2, 3), padding="same", dilation=2),
    _conv("'valid' unbatched (C,H,W)", (2, 5, 6), (3, 2, 3, 3), padding="valid"),
    _conv_relu("5x5 padding 2 (LeNet's conv1, small)", (2, 1, 8, 7), (3, 1, 5, 5), padding=2),
    _conv_relu("stride 2 not dividing 6+2", (2, 2, 6, 6), (3, 2, 3, 3), stride=2, padding=1),
    _conv_relu("groups 2, unbatched", (4, 5, 5), (4, 2, 3, 3), groups=2, padding=1),
    _convt("3x3 stride 1", (2, 2, 4, 4), (2, 3, 3, 3)),
    _convt("stride 2, padding 1, output_padding 1", (2, 2, 3, 4), (2, 2, 3, 3), stride=2,
           padding=1, output_padding=1),
    _convt("stride 3, 3x2 kernel", (1, 3, 3, 3), (3, 2, 3, 2), stride=3),
    _convt("stride (2,3), padding (1,0), output_padding (0,2)", (2, 2, 3, 3), (2, 2, 2, 3),
           stride=(2, 3), padding=(1, 0), output_padding=(0, 2)),
    _convt("dilation 2, output_padding 1 < dilation", (1, 2, 4, 4), (2, 2, 3, 3), dilation=2,
           output_padding=1),
    _convt("groups 2", (2, 4, 3, 3), (4, 1, 3, 3), groups=2, stride=2),
    _convt("depthwise 3", (1, 3, 4, 4), (3, 1, 2, 2), groups=3, stride=2, padding=1),
    _convt("padding larger than kernel reach", (2, 2, 5, 5), (2, 2, 1, 1), padding=1),
    _convt("1x1 on an 8x9 plane", (1, 3, 8, 9), (3, 2, 1, 1)),
    _convt("no bias, unbatched", (2, 4, 3), (2, 3, 3, 3), bias=False, stride=2),
]
