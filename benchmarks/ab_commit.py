"""A/B in one process against an earlier commit: the working tree's striate and the commit's,
imported side by side, alternating each round, so that the machine's changing load falls on
both alike (for changes that span files, where ``ab.py``'s swapped functions would not do).

    python benchmarks/ab_commit.py resnet20 --batch-size 1 --against HEAD~1
    python benchmarks/ab_commit.py lenet5 --batch-size 128 --against 5f62d31 --rounds 21
    python benchmarks/ab_commit.py resnet18 --input-size 64 --batch-size 16 --conv-plan measured

The commit's ``src/striate`` is extracted (``git archive``) into a temporary folder as the
package ``striate_<commit>``; every import inside the package is relative, so the two copies
do not mix (each has its own thread pool and Numba cache).  Both build the model from the same
seed.  Prints per figure the median ms of each and the median of the rounds' ratios new/old,
with each round's ratio: on these machines single rounds move by ±30%, so read the median of
15–21 rounds, not one.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from steps import step_functions


def _extract(commit: str, folder: Path) -> str:
    """The commit's package, unpacked under ``folder`` as ``striate_<hash>``; its module name."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True).stdout.strip()
    short = subprocess.run(["git", "rev-parse", "--short", commit], capture_output=True,
                           text=True, check=True, cwd=root).stdout.strip()
    archive = subprocess.run(["git", "archive", short, "src/striate"], capture_output=True,
                             check=True, cwd=root).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    name = f"striate_{short}"
    (folder / "src" / "striate").rename(folder / name)
    return name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a zoo model, e.g. resnet20, vgg11_bn")
    p.add_argument("--input-size", type=int, default=None,
                   help="input height = width (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--against", default="HEAD", help="the commit to compare with")
    p.add_argument("--steps", type=int, default=10, help="timed calls per version and round")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--conv-plan", choices=("rules", "measured"), default="rules",
                   help="how both versions choose their convolution algorithms: by their rules, "
                        "or each timing its own candidates in this process")
    args = p.parse_args()
    measured = args.conv_plan == "measured"

    with tempfile.TemporaryDirectory() as folder:
        sys.path.insert(0, folder)
        old = _extract(args.against, Path(folder))
        versions = {"old": step_functions(old, args.model, args.batch_size, args.input_size,
                                          measured),
                    "new": step_functions("striate", args.model, args.batch_size, args.input_size,
                                          measured)}
        for fns in versions.values():  # warm-up: compiles, caches
            for fn in fns:
                fn()
                fn()
        times: dict = {(v, what): [] for v in versions for what in ("train", "infer")}
        for r in range(args.rounds):
            for version in (list(versions) if r % 2 == 0 else list(versions)[::-1]):
                for what, fn in zip(("train", "infer"), versions[version], strict=True):
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        fn()
                    times[version, what].append((time.perf_counter() - start) / args.steps * 1e3)
    print(f"{args.model}, batch {args.batch_size}: new = the working tree, old = {args.against}")
    for what in ("train", "infer"):
        before, after = times["old", what], times["new", what]
        ratios = [b / a for a, b in zip(before, after, strict=True)]
        print(f"{what:>5}: old {statistics.median(before):8.3f} ms  new "
              f"{statistics.median(after):8.3f} ms  new/old {statistics.median(ratios):.3f}  "
              f"[{', '.join(f'{q:.2f}' for q in ratios)}]")


if __name__ == "__main__":
    main()
