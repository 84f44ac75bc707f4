"""Importing striate changes nothing in the host process: NumPy's BLAS keeps its thread count and
malloc its settings.  Process tuning is the explicit ``st.backends.tune_process()``."""

import json
import platform
import subprocess
import sys

import pytest

from test_allocator import faults_per_step

BLAS_THREADS = """
import json
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

def numpy_blas():
    return [lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas" and "numpy" in lib["filepath"]]

threadpool_limits(limits=2, user_api="blas")
before = numpy_blas()
import striate, striate.nn, striate.nn.functional as F
x = striate.randn(2, 3, 8, 8)
F.conv2d(x, striate.randn(4, 3, 3, 3), padding=1).sum()  # a kernel call restores what it scoped
after = numpy_blas()
striate.backends.tune_process(malloc=False)
print(json.dumps([before, after, numpy_blas()]))
"""


def test_import_leaves_numpy_blas_threads_as_they_were():
    pytest.importorskip("threadpoolctl")
    out = subprocess.run([sys.executable, "-c", BLAS_THREADS], capture_output=True, text=True,
                         check=True)
    before, after, tuned = json.loads(out.stdout)
    if not before:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    assert after == before
    assert tuned == [1] * len(before)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_import_leaves_malloc_as_it_was():
    """With malloc's defaults every step faults its freed 4 MiB arrays in again; the tuning
    would bring that under 100 (tests/test_allocator.py)."""
    assert faults_per_step("import striate, striate.nn, striate.models") > 4000
