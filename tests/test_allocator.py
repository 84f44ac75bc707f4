"""The malloc tuning that ``import striate`` applies: the pages of freed arrays are reused by the
next step, not handed back to the OS and faulted in again."""

import os
import platform
import subprocess
import sys

import pytest

import striate  # noqa: F401 - the import applies the tuning under test
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


def _faults_per_step(reuse: str) -> float:
    env = dict(os.environ, STRIATE_REUSE_MEMORY=reuse)
    out = subprocess.run([sys.executable, "-c", "import striate\n" + STEPS], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def test_import_keeps_freed_arrays_for_reuse():
    assert reuse_freed_memory()
    assert _faults_per_step("1") < 100


def test_malloc_defaults_fault_every_step():
    """What the tuning avoids, and that STRIATE_REUSE_MEMORY=0 keeps malloc's defaults."""
    assert _faults_per_step("0") > 4000
