"""What the machine is, printed beside every speed figure: the same code ran twice as fast, and
compared differently with PyTorch, on an AVX-512 Intel machine and an AVX2 AMD one, so a ratio
means little without the processor it was measured on."""

from __future__ import annotations

import platform

from ..kernels.parallel import usable_cores

# The widest vector instructions first: the first one the processor has is the one reported.
_VECTOR_FLAGS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"),
                 ("asimd", "NEON"))


def cpu_description(cpuinfo: str | None = None) -> str:
    """"<model name>, <widest vector instructions>, <n> cores", from /proc/cpuinfo where there is
    one (``cpuinfo`` its text, for tests), else from ``platform``."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    vector = next((label for flag, label in _VECTOR_FLAGS if flag in flags), None)
    return ", ".join(part for part in (name, vector, f"{usable_cores()} cores") if part)



def blas_description() -> str:
    """"openblas 0.3.31 (SkylakeX kernels)": NumPy's BLAS and the kernels it chose, with
    ``OPENBLAS_CORETYPE`` where that forced them.  On one AVX-512 processor its sgemm ran 1.8×
    faster on the SkylakeX kernels than on the Haswell (AVX2) ones (docs/performance.md)."""
    import os

    from ..kernels.parallel import numpy_blas

    try:
        libraries = numpy_blas()
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        libraries = []
    forced = os.environ.get("OPENBLAS_CORETYPE")
    parts = []
    for lib in libraries:
        kernels = getattr(lib, "architecture", None)  # OpenBLAS's openblas_get_corename
        if kernels and forced:
            kernels += f" kernels, OPENBLAS_CORETYPE={forced}"
        elif kernels:
            kernels += " kernels"
        parts.append(f"{lib.internal_api} {lib.version}" + (f" ({kernels})" if kernels else ""))
    return ", ".join(parts) or "BLAS unknown"
