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


INTEL = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw
"""
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes\n"


def test_cpu_description_names_the_processor_and_its_widest_vectors():
    from striate.bench.machine import cpu_description
    from striate.kernels.parallel import usable_cores

    cores = f"{usable_cores()} cores"
    assert cpu_description(INTEL) == \
        f"Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz, AVX-512, {cores}"
    assert cpu_description(GRAVITON).endswith(f"NEON, {cores}")  # no model name: platform's
    assert cpu_description("").endswith(cores)
    assert cpu_description().endswith(cores)  # this machine's


def test_blas_description_names_numpys_blas_and_its_kernels(monkeypatch):
    """The BLAS line printed beside speed figures, with the variable that forced its kernels."""
    import threadpoolctl

    from striate.bench.machine import blas_description

    info = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    line = blas_description()
    assert all(lib["version"] in line for lib in info if "numpy" in lib["filepath"])
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    forced = blas_description()
    assert "OPENBLAS_CORETYPE=Haswell" in forced or "kernels" not in forced  # no OpenBLAS
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert "OPENBLAS_CORETYPE" not in blas_description()


def test_bench_command_prints_the_machine(capsys):
    from striate.bench.machine import blas_description, cpu_description

    assert main(["bench", "lenet5", "--batch-size", "2", "--seconds", "0.01", "--repeats", "1",
                 "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert cpu_description() in out and blas_description() in out
