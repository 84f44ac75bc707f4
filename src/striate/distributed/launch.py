"""Starting a job: ``striate train --workers N`` on one machine, ``--distributed`` under mpiexec.

``--workers N`` runs the same command again under the ``mpiexec`` of the ``mpich`` wheel (or
the first on ``PATH``), as ``N`` ranks with ``--distributed``.  Each rank then joins the process
group (:func:`setup_rank`), shares the machine's cores with the other ranks on it (ranks ×
threads ≤ cores, unless ``STRIATE_NUM_THREADS`` says otherwise), and, unless it is rank 0,
prints nothing to standard output.  :func:`abort_on_error` turns an exception in any one rank
into the end of the whole job, with that rank's message, instead of the other ranks waiting in
their next collective.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from .process_group import get_backend, init_process_group, is_available, is_initialized


def find_mpiexec() -> str | None:
    """The ``mpiexec`` of the installed ``mpich`` wheel, else the first on ``PATH``."""
    try:
        files = importlib.metadata.distribution("mpich").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "mpiexec":
            path = Path(entry.locate()).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return shutil.which("mpiexec")


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_rank(ranks_here: int) -> int:
    """Kernel threads for each of ``ranks_here`` ranks on this machine: ranks × threads ≤
    cores, at least one each."""
    return max(1, available_cores() // max(1, ranks_here))


def launch_workers(workers: int, argv: Sequence[str]) -> int:
    """Run ``striate`` with ``argv`` (which must not hold ``--workers``) as ``workers`` ranks
    on this machine and ``--distributed``; return mpiexec's exit status."""
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if not is_available():
        raise UserError("--workers needs mpi4py and an MPI library: "
                        "pip install 'striate[distributed]'")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise UserError("--workers needs mpiexec: pip install mpich, or put an MPI "
                        "library's mpiexec on PATH")
    env = dict(os.environ)
    env.setdefault("STRIATE_NUM_THREADS", str(threads_per_rank(workers)))
    command = [mpiexec, "-n", str(workers), sys.executable, "-m", "striate.cli", *argv,
               "--distributed"]
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:  # mpiexec forwards Ctrl-C to the ranks, which save and stop
        return 130


def strip_workers(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--workers N`` (or ``--workers=N``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


def setup_rank() -> None:
    """Join the job's process group as a rank launched by mpiexec: share this machine's cores
    with its other ranks, and leave standard output to rank 0."""
    if not is_available():
        raise UserError("--distributed needs mpi4py and an MPI library: "
                        "pip install 'striate[distributed]'")
    if not is_initialized():
        init_process_group("mpi")
    from ..kernels.settings import cpu

    backend = get_backend()
    if "STRIATE_NUM_THREADS" not in os.environ:
        cpu.num_threads = threads_per_rank(backend.local_size)
    if backend.rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)
    print(f"{backend.world_size} ranks over MPI ({backend.local_size} on this machine, "
          f"{cpu.num_threads} kernel threads each); each batch is shared out over them",
          flush=True)


@contextmanager
def abort_on_error(command: str = "striate") -> Iterator[None]:
    """Turn an exception in this rank into the end of every rank of the job, with a message
    naming the rank; a stop that every rank agreed on (an interruption) ends normally."""
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        backend = get_backend()
        if backend.world_size == 1:
            raise
        code = 2 if isinstance(e, (UserError, OSError)) else 1
        if isinstance(e, SystemExit):
            code = e.code if isinstance(e.code, int) else 1
        kind = "" if isinstance(e, (UserError, SystemExit)) else f"{type(e).__name__}: "
        print(f"{command}: error: rank {backend.rank} of {backend.world_size}: {kind}{e}; "
              "stopping every rank", file=sys.stderr, flush=True)
        if code == 1 and not isinstance(e, SystemExit):
            import traceback

            traceback.print_exc(file=sys.stderr)
        backend.abort(code)
