"""Jobs of 2 ranks under mpiexec: equivalence with one process, rank-0-only writing, and the
end of the whole job when a rank dies, raises or hangs."""

import json
import time

import pytest


@pytest.mark.parametrize("sync", [True, False], ids=["sync-bn", "local-bn"])
def test_two_ranks_of_batch_b_take_the_steps_of_one_process_with_batch_2b(mpirun, tmp_path,
                                                                         sync):
    """10 steps of a fused ResNet-20 in float64; with synchronised batch norm the parameters
    and running statistics are those of one process with the whole batch (1e-10); with each
    rank's own statistics they differ from it, but never between the ranks."""
    done, _ = mpirun(2, "equivalence", str(tmp_path), "4", "1" if sync else "0")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["between_ranks"] == 0.0
    assert result["count"] == 80  # the training metrics count both ranks' samples
    if sync:
        assert result["params"] < 1e-10 and result["buffers"] < 1e-10
        assert result["loss"] < 1e-10
    else:
        assert result["params"] > 1e-6
    # rank 0 alone wrote its run folder; rank 1's was never even created
    assert result["written"] == {"rank0": ["last.safetensors", "metrics.csv",
                                           "metrics.jsonl"]}


@pytest.mark.parametrize("mode, status, message", [
    ("kill", None, "BAD TERMINATION"),
    ("raise", 1, "error: rank 1 of 2: RuntimeError: rank 1 gives up; stopping every rank"),
    ("hang", 1, "rank 0 of 2 waited 5 s in "),
])
def test_a_failing_rank_ends_the_job_with_a_message_within_60_s(mpirun, tmp_path, mode, status,
                                                                 message):
    """Rank 1 dies by SIGKILL, raises, or hangs after two steps while rank 0 trains on: the
    job ends with a non-zero status and says why (MPI's own report of the killed rank, the
    exception, or the watchdog's deadline, 5 s here: in the gradient all-reduce, or, on a
    machine so loaded that rank 1 starts more than 5 s after rank 0, in the first broadcast)."""
    started = time.monotonic()
    done, seconds = mpirun(2, "fail", mode, timeout=60,
                           env={"RUN_DIR": str(tmp_path), "STRIATE_DIST_TIMEOUT": "5"})
    assert seconds < 60 and time.monotonic() - started < 60
    assert done.returncode != 0 if status is None else done.returncode == status
    assert message in done.stdout + done.stderr
