"""PyTorch twins of DenseNet, MobileNet v1, All-CNN-C and Jarrett's network (with its local
contrast normalisation written out in torch); see ``torch_twins`` for how
they are used (only to compare with PyTorch; importing this module imports torch)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- DenseNet, MobileNet v1, All-CNN-C, Jarrett ------------------------------------------------


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, features):
        x = self.conv1(F.relu(self.norm1(torch.cat(features, 1))))
        return self.conv2(F.relu(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n, cin, bn_size, growth):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth, blocks, init_features, num_classes, in_channels,
                 small_input=False):
        super().__init__()
        if small_input:
            stem = [("conv0", nn.Conv2d(in_channels, init_features, 3, 1, 1, bias=False))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, init_features, 7, 2, 3, bias=False)),
                    ("norm0", nn.BatchNorm2d(init_features)), ("relu0", nn.ReLU()),
                    ("pool0", nn.MaxPool2d(3, 2, 1))]
        self.features = nn.Sequential(OrderedDict(stem))
        n = init_features
        for i, layers in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(layers, n, 4, growth))
            n += layers * growth
            if i != len(blocks) - 1:
                self.features.add_module(f"transition{i + 1}", nn.Sequential(OrderedDict([
                    ("norm", nn.BatchNorm2d(n)), ("relu", nn.ReLU()),
                    ("conv", nn.Conv2d(n, n // 2, 1, bias=False)), ("pool", nn.AvgPool2d(2, 2)),
                ])))
                n //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(n))
        self.classifier = nn.Linear(n, num_classes)

    def forward(self, x):
        return self.classifier(F.relu(self.features(x)).mean((2, 3)))


MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                    (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class MobileNetV1(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0):
        super().__init__()

        def w(c):
            return max(8, int(c * width_mult))

        layers = [nn.Sequential(nn.Conv2d(in_channels, w(32), 3, 2, 1, bias=False),
                                nn.BatchNorm2d(w(32)), nn.ReLU())]
        inp = w(32)
        for out, stride in MOBILENET_BLOCKS:
            layers.append(nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                nn.ReLU(), nn.Conv2d(inp, w(out), 1, bias=False), nn.BatchNorm2d(w(out)),
                nn.ReLU()))
            inp = w(out)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(inp, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


class AllConvNet(nn.Module):
    def __init__(self, num_classes=10, in_channels=3, input_size=32, dropout=0.5,
                 input_dropout=0.2, final_relu=False):
        super().__init__()
        c = nn.Conv2d
        self.features = nn.Sequential(
            nn.Dropout(input_dropout),
            c(in_channels, 96, 3, 1, 1), nn.ReLU(), c(96, 96, 3, 1, 1), nn.ReLU(),
            c(96, 96, 3, 2, 1), nn.ReLU(), nn.Dropout(dropout),
            c(96, 192, 3, 1, 1), nn.ReLU(), c(192, 192, 3, 1, 1), nn.ReLU(),
            c(192, 192, 3, 2, 1), nn.ReLU(), nn.Dropout(dropout),
            c(192, 192, 3), nn.ReLU(), c(192, 192, 1), nn.ReLU(), c(192, num_classes, 1),
            *([nn.ReLU()] if final_relu else []))

    def forward(self, x):
        return self.features(x).mean((2, 3))


def gaussian_window(k: int) -> np.ndarray:
    """Normalised Gaussian, σ = k/4 (written out again, independently of striate)."""
    d = np.arange(k) - (k - 1) / 2
    w = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * (k / 4) ** 2))
    return w / w.sum()


class LocalContrastNorm(nn.Module):
    """Jarrett's LCN: v = x − G(Σ_j x_j), σ = √G(Σ_j v_j²), y = v / max(mean σ, σ)."""

    def __init__(self, k=9, eps=1e-8):
        super().__init__()
        self.k, self.eps = k, eps

    def forward(self, x):
        w = torch.from_numpy(gaussian_window(self.k) / x.shape[1]).to(x.dtype)[None, None]

        def g(a):
            return F.conv2d(a, w, padding=self.k // 2)

        v = x - g(x.sum(1, keepdim=True))
        sigma = torch.sqrt(g((v * v).sum(1, keepdim=True)))
        c = sigma.mean((2, 3), keepdim=True)
        return v / torch.clamp(torch.maximum(sigma, c), min=self.eps)


class Jarrett(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, input_size=28, channels=(32, 64),
                 kernel_sizes=(7, 5), lcn_size=9):
        super().__init__()
        layers, side, inp = [], input_size, in_channels
        for i, (out, k) in enumerate(zip(channels, kernel_sizes, strict=True)):
            layers += [(f"conv{i + 1}", nn.Conv2d(inp, out, k, padding=k // 2)),
                       (f"rectify{i + 1}", _Abs()), (f"lcn{i + 1}", LocalContrastNorm(lcn_size)),
                       (f"pool{i + 1}", nn.AvgPool2d(2))]
            side, inp = side // 2, out
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(inp * side * side, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class _Abs(nn.Module):
    def forward(self, x):
        return x.abs()
