"""Keep freed array memory in the process for the next step instead of handing it back to the OS.

A training step allocates and frees the same large arrays every time (activations, im2col
matrices, gradients).  glibc's malloc serves blocks above its mmap threshold (128 KiB, raised
only as larger blocks are freed) with fresh pages from the kernel and unmaps them on free, and it
trims the top of its heap once more than twice that threshold lies free.  Either way the next
step touches new pages, and every page costs a page fault that zero-fills it (thousands per
ResNet-20 training step; docs/convolution-plan.md, "Process tuning").

:func:`reuse_freed_memory` raises the mmap threshold to its maximum (32 MiB on 64-bit glibc) and
the trim threshold to 1 GiB, so blocks up to 32 MiB come from the heap and stay there once freed:
the faults drop to a few per step.  The price is that memory freed after the peak stays with the
process (its peak does not change), and the setting cannot be undone: so importing striate does
not apply it; ``striate.backends.tune_process()`` does, and the command line calls that.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1 << 30


def reuse_freed_memory() -> bool:
    """Tune glibc's malloc as described above; True if it was done, False where it does not
    apply (another C library)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
