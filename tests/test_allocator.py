"""The malloc tuning of ``st.backends.tune_process()``: the pages of freed arrays are reused by
the next step, not handed back to the OS and faulted in again.  Importing striate alone leaves
malloc as it was (tests/test_import.py checks that too)."""

import platform
import subprocess
import sys

import pytest

from striate.allocator import reuse_freed_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")

# A step's pattern: several 4 MiB arrays alive at once, then all freed.  Prints the minor page
# faults per step after the first (8 arrays × 1024 pages of 4 KiB would fault 8192 times).
STEPS = """
import resource, numpy as np
def step():
    arrays = [np.ones(1 << 20, dtype=np.float32) for _ in range(8)]
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_step(prelude: str) -> float:
    """Minor page faults per step of :data:`STEPS` in a fresh process that first runs
    ``prelude``."""
    out = subprocess.run([sys.executable, "-c", prelude + "\n" + STEPS], capture_output=True,
                         text=True, check=True)
    return float(out.stdout)


def test_tune_process_keeps_freed_arrays_for_reuse():
    assert faults_per_step("import striate\nassert striate.backends.tune_process().malloc") < 100


def test_reuse_freed_memory_applies_on_glibc():
    assert reuse_freed_memory()


def test_malloc_defaults_fault_every_step():
    """What the tuning avoids; and importing striate does not tune."""
    assert faults_per_step("import striate") > 4000
    assert faults_per_step("import striate\nstriate.backends.tune_process(malloc=False)") > 4000
