"""Kill ``striate train`` with SIGKILL at random moments, resume it each time, and check that
every checkpoint left behind loads and that the final weights equal an uninterrupted run's.

    python benchmarks/kill_resume.py --kills 30

A kill can land anywhere: inside a step, inside a checkpoint write, between the write and the
rename. The promise under test: the run folder always holds a loadable last checkpoint (or none
before the first epoch ends), and ``--resume`` after any number of kills ends with the same
weights, bit for bit, as a run that was never interrupted (resumption restores every RNG stream).
"""

from __future__ import annotations

import argparse
import gzip
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from striate.train.checkpoint import load_checkpoint
from striate.train.restore import model_from_checkpoint


def write_tiny_mnist(root: Path, n_train: int = 1200, n_test: int = 200) -> None:
    """A learnable dataset in MNIST's IDX files: class k is a bright bar at row 2k + 2."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, k in enumerate(labels):
            images[i, 2 * k + 2:2 * k + 6, 4:24] = 230
        for kind, array in (("images", images), ("labels", labels)):
            header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(
                f">{array.ndim}I", *array.shape)
            with gzip.open(root / f"{split}-{kind}-idx{array.ndim}-ubyte.gz", "wb") as f:
                f.write(header + array.astype(np.uint8).tobytes())


def command(data: Path, out: Path, epochs: int, resume: bool) -> list[str]:
    base = [sys.executable, "-m", "striate.cli", "train"]
    if resume:
        return [*base, "--resume", str(out), "--no-progress", "--no-plots"]
    return [*base, "--dataset", "mnist", "--data-dir", str(data), "--epochs", str(epochs),
            "--batch-size", "32", "--out", str(out), "--no-progress", "--no-plots"]


def check_folder(out: Path) -> None:
    """Every checkpoint in ``out`` loads and rebuilds its model; nothing half-written remains
    under a final name."""
    for path in out.glob("*.safetensors"):
        model_from_checkpoint(load_checkpoint(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0, help="seeds the moments of the kills")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiny_mnist(tmp)
        straight = tmp / "straight"
        started = time.perf_counter()
        subprocess.run(command(tmp, straight, args.epochs, False), check=True,
                       capture_output=True)
        whole = time.perf_counter() - started
        kills, runs = 0, 0
        while kills < args.kills:
            runs += 1
            killed = tmp / f"killed-{runs}"
            kills += kill_until_finished(tmp, killed, args.epochs, whole, rng)
            a = load_checkpoint(straight / "last.safetensors").model_state
            b = load_checkpoint(killed / "last.safetensors").model_state
            if a.keys() != b.keys() or not all(np.array_equal(a[k], b[k]) for k in a):
                print(f"run {runs}: the final weights DIFFER from the uninterrupted run's")
                return 1
        print(f"{kills} kills survived in {runs} runs of {args.epochs} epochs: every checkpoint "
              "loaded after each kill, and every run ended with the uninterrupted run's weights, "
              "bit for bit")
        return 0


def kill_until_finished(data: Path, out: Path, epochs: int, longest: float,
                        rng: np.random.Generator) -> int:
    """Start, SIGKILL at a random moment and resume ``out`` until it finishes; the kill count."""
    kills = 0
    while True:
        resume = (out / "last.safetensors").exists()
        proc = subprocess.Popen(command(data, out, epochs, resume), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=rng.uniform(0.2, longest))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            kills += 1
            check_folder(out)
            continue
        if proc.returncode != 0:
            raise RuntimeError(f"striate train failed: {err.decode()}")
        return kills


if __name__ == "__main__":
    sys.exit(main())
