"""Running scripts as MPI jobs; every test here is skipped without mpi4py and an mpiexec."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train.conftest import tiny_fmnist  # noqa: F401 (the fixture, shared with tests/train)

RANKS = Path(__file__).with_name("ranks.py")


def _mpiexec():
    from striate.distributed import is_available
    from striate.distributed.launch import find_mpiexec

    if not is_available():
        return None, "mpi4py is not installed (pip install 'striate[distributed]')"
    path = find_mpiexec()
    return path, None if path else "no mpiexec (pip install mpich)"


@pytest.fixture(scope="session")
def mpiexec():
    path, reason = _mpiexec()
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture
def mpirun(mpiexec):
    """``mpirun(n, *args, timeout=, env=)``: run ``python ranks.py *args`` as n ranks; returns
    (CompletedProcess, seconds)."""

    def run(n: int, *args: str, timeout: float = 120, env: dict | None = None):
        started = time.monotonic()
        done = subprocess.run([mpiexec, "-n", str(n), sys.executable, str(RANKS), *args],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "STRIATE_NUM_THREADS": "1", **(env or {})})
        return done, time.monotonic() - started

    return run
