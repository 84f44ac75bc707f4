"""Settings of striate's kernels as objects, in the spirit of ``torch.backends``.

    import striate as st
    st.backends.conv.winograd = False          # 3×3 layers back on im2col
    with st.backends.flags(direct=False, num_threads=1):
        ...                                    # these settings within the block only
    st.backends.conv_plan((128, 16, 32, 32), (16, 16, 3, 3), padding=1)   # which algorithms

* ``conv``: ``winograd``, ``winograd_f4`` (False: F(2×2, 3×3) only) and ``direct``, the
  algorithms a convolution plan may choose (docs/convolution-plan.md);
* ``cpu``: ``num_threads``, the worker threads that share a kernel's chunks.

The environment variables ``STRIATE_WINOGRAD`` (0 off, 2 F(2×2, 3×3) only), ``STRIATE_DIRECT``
(0 off) and ``STRIATE_NUM_THREADS`` give the start-up values, read once at import.  Plans are
cached per geometry and settings, so a change takes effect on the next call.

Importing striate changes nothing in the process; :func:`tune_process` is the explicit call that
tunes it for training (the command line and ``Trainer.fit`` make it).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .kernels.settings import ConvSettings, CpuSettings, conv, cpu, flags

__all__ = ["ConvSettings", "CpuSettings", "conv", "conv_plan", "cpu", "flags", "tune_process"]


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def conv_plan(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], stride: Any = 1,
              padding: Any = 0, dilation: Any = 1, groups: int = 1,
              dtype: Any = np.float32) -> Any:
    """The :class:`~striate.kernels.conv_plan.ConvPlan` that ``F.conv2d`` on the CPU takes for an
    input of ``x_shape`` (N, C, H, W) and a weight of ``weight_shape`` (O, C/groups, kh, kw),
    under the current settings: which algorithm computes the forward, the input gradient and the
    weight gradient, with its chunks.  ``padding``: an int or a pair (symmetric), as conv2d's.
    After a forward, a layer's own plan is also on its op's context (``ctx.plan``);
    ``striate bench MODEL --profile`` lists each layer's."""
    from .kernels.conv_plan import plan_for

    ph, pw = _pair(padding)
    return plan_for(tuple(x_shape), tuple(weight_shape), _pair(stride), ((ph, ph), (pw, pw)),
                    _pair(dilation), groups, np.dtype(dtype), np.ndarray)


class Tuning(NamedTuple):
    """What :func:`tune_process` did: ``malloc`` True where glibc's malloc was tuned, and
    ``blas_threads`` the BLAS libraries set to one thread."""

    malloc: bool
    blas_threads: int


def tune_process(malloc: bool = True, blas: bool = True) -> Tuning:
    """Tune this process for training with striate; irreversible, so never done at import.

    * ``malloc``: glibc keeps freed memory for the next step instead of returning it to the OS
      (``allocator.reuse_freed_memory``): ResNet-20's training step no longer faults its pages
      in again every step;
    * ``blas``: NumPy's BLAS gets one thread for good (``st.set_num_threads`` changes it again):
      an idle OpenBLAS thread spins after each multi-threaded call, taking a core from striate's
      own worker threads.

    The command line and ``Trainer.fit`` call it; what it buys is measured in
    docs/convolution-plan.md, "Process tuning"."""
    from .allocator import reuse_freed_memory
    from .kernels.parallel import keep_numpy_blas_single_threaded, numpy_blas

    tuned = reuse_freed_memory() if malloc else False
    count = 0
    if blas:
        keep_numpy_blas_single_threaded()
        try:
            count = len(numpy_blas())
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            count = 0
    return Tuning(tuned, count)
