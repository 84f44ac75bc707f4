"""PyTorch twins of ``striate.models``: they exist only to compare striate with PyTorch.

``striate bench`` (its PyTorch column, skipped by ``--no-torch``), the scripts in ``benchmarks/``
and the parity tests (``tests/models/test_models_reference.py``) use them; nothing else in the
library does.  Importing this module imports torch, so only those callers import it, and only
when a comparison with PyTorch is asked for.

Each class mirrors torchvision's code (or, for models torchvision lacks, ours) with the same
module names, so ``state_dict`` keys match one to one.  ``build(name, **kwargs)`` builds one on
the meta device (no init cost); ``twin(name, model)`` builds one holding a copy of a striate
model's weights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .torch_twins_extra import AllConvNet, DenseNet, MobileNetV1

# --- LeNet-5, AlexNet, VGG -------------------------------------------------------------------


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, input_size=28, activation="relu",
                 pool="max", padding=2):
        super().__init__()
        side = ((input_size + 2 * padding - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=padding)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.act = nn.ReLU() if activation == "relu" else nn.Tanh()
        self.pool = nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = self.act(self.fc1(x.flatten(1)))
        return self.fc3(self.act(self.fc2(x)))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(9216, 4096), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, cfg, batch_norm, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        layers = []
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers.append(nn.Conv2d(in_channels, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            in_channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# --- GoogLeNet -------------------------------------------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, kernel_size=1),
                                     BasicConv2d(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, kernel_size=1),
                                     BasicConv2d(c5r, c5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     BasicConv2d(cin, pp, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, cin, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, aux_logits=False, dropout=0.2,
                 dropout_aux=0.7):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        heads = self.aux_logits and self.training
        aux1 = self.aux1(x) if heads else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if heads else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x))).flatten(1)
        x = self.fc(self.dropout(x))
        return (x, aux2, aux1) if heads else x


# --- ResNets ---------------------------------------------------------------------------------


class _Residual(nn.Module):
    names = ()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = x
        for i, (conv, bn) in enumerate(self.names):
            out = getattr(self, conv)(out)
            if self.variant == "seed000":
                out = getattr(self, bn)(F.relu(out))
            else:
                out = getattr(self, bn)(out)
                if i < len(self.names) - 1:
                    out = F.relu(out)
        out = out + identity
        return out if self.variant == "seed000" else F.relu(out)


class BasicBlock(_Residual):
    expansion = 1
    names = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, inplanes, planes, stride, downsample, variant):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample, self.variant = downsample, variant


class Bottleneck(_Residual):
    expansion = 4
    names = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, inplanes, planes, stride, downsample, variant):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample, self.variant = downsample, variant


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, in_channels=3,
                 block_variant="standard"):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                down = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            blocks = [block(self.inplanes, planes, stride, down, block_variant)]
            self.inplanes = planes * block.expansion
            blocks += [block(self.inplanes, planes, 1, None, block_variant) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.extra = stride, planes - inp

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.stride != 1 or self.extra:
            e = self.extra
            x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, e // 2, e - e // 2))
        return F.relu(out + x)


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inp = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = [CifarBlock(inp, planes, 1 if i == 0 else 2)]
            blocks += [CifarBlock(planes, planes, 1) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inp = planes
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


# --- names -----------------------------------------------------------------------------------


def _builders():
    from . import torch_twins_original as original  # it builds on the classes above

    b = {
        "lenet5": LeNet5, "alexnet": AlexNet, "googlenet": GoogLeNet,
        "resnet18": lambda **k: ResNet(BasicBlock, [2, 2, 2, 2], **k),
        "resnet34": lambda **k: ResNet(BasicBlock, [3, 4, 6, 3], **k),
        "resnet50": lambda **k: ResNet(Bottleneck, [3, 4, 6, 3], **k),
        "resnet101": lambda **k: ResNet(Bottleneck, [3, 4, 23, 3], **k),
        "resnet152": lambda **k: ResNet(Bottleneck, [3, 8, 36, 3], **k),
        "densenet121": lambda num_classes=1000, in_channels=3: DenseNet(
            32, (6, 12, 24, 16), 64, num_classes, in_channels),
        "densenet_bc": lambda depth=100, growth_rate=12, num_classes=10, in_channels=3,
        input_size=32: DenseNet(growth_rate, (((depth - 4) // 6),) * 3, 2 * growth_rate,
                                num_classes, in_channels, small_input=True),
        "mobilenet_v1": MobileNetV1, "allconv": AllConvNet,
        "jarrett": lambda **k: original.jarrett(**k),
        "alexnet_original": lambda **k: original.AlexNetOriginal(**k),
        "googlenet_original": lambda **k: original.GoogLeNetOriginal(**k),
    }
    for depth in (20, 32, 44, 56, 110):
        b[f"resnet{depth}"] = lambda d=depth, **k: original.cifar_resnet(d, **k)
    for name, cfg in VGG_CONFIGS.items():
        b[name] = lambda c=cfg, **k: VGG(c, False, **k)
        b[name + "_bn"] = lambda c=cfg, **k: VGG(c, True, **k)
    return b


BUILDERS = _builders()


def build(name: str, **kwargs) -> nn.Module:
    """The torch twin of ``striate.models.get_model(name, **kwargs)``, on the meta device.
    The ImageNet models (built for 224 px or more) pool adaptively before their classifier, so
    ``input_size`` changes none of their layers and their twins do not take it."""
    from striate.models import default_input_size

    if default_input_size(name) >= 224:
        kwargs.pop("input_size", None)
    with torch.device("meta"):
        return BUILDERS[name](**kwargs)


def load_from(ref: nn.Module, state: dict) -> nn.Module:
    """Give the meta-device ``ref`` striate's arrays: parameters shared, buffers copied."""
    params = {k for k, _ in ref.named_parameters()}
    tensors = {k: torch.from_numpy(np.asarray(v) if k in params else np.array(v))
               for k, v in state.items()}
    ref.load_state_dict(tensors, strict=True, assign=True)
    return ref


def twin(name: str, model, **kwargs) -> nn.Module:
    """A torch copy of the striate ``model`` built by ``get_model(name, **kwargs)``."""
    state = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    ref = load_from(build(name, **kwargs), state)
    return ref.train(model.training)
