"""The per-layer profile attributes time to layers and leaves the engine as it found it."""

import numpy as np

import striate.nn as nn
from striate import profiling
from striate.bench.profile import OUTSIDE, format_profile, profile_step
from striate.cli import main


def test_profile_covers_every_leaf_layer_and_restores_the_engine():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    images = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    rows, total, optim_s = profile_step(model, images, np.arange(8) % 10, steps=2)
    names = [r.name for r in rows]
    assert names[:5] == ["0", "1", "2", "3", "4"] and OUTSIDE in names  # the loss
    conv = rows[0]
    assert conv.kind == "Conv2d" and conv.forward_s > 0 and conv.backward_s > 0
    assert conv.flops == 8 * 2 * 4 * 8 * 8 * 9
    assert 0 < sum(r.forward_s + r.backward_s for r in rows) + optim_s <= total * 1.05
    assert profiling.profiler is None
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert "whole step" in format_profile(rows, total, optim_s, "t")


def test_bench_profile_command(capsys):
    assert main(["bench", "lenet5", "--profile", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "conv1 (Conv2d)" in out and "fc3 (Linear)" in out
