"""``striate gradcheck``: run the gradient-check table and print one line per op."""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

from ..errors import UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gradcheck", help="check every op's backward against central differences (float64)",
        description="Run the table of gradient checks: each op's hand-written backward against "
                    "central finite differences in float64, on many configurations. Prints one "
                    "line per op with its largest relative error; exits 1 if any exceeds its "
                    "tolerance.")
    p.add_argument("--op", action="append", metavar="NAME",
                   help="check only this op (repeatable), e.g. --op conv2d (default: every op)")
    p.add_argument("--seed", type=int, default=0, help="seed of inputs and upstream gradients")
    p.add_argument("--verbose", "-v", action="store_true", help="one line per configuration")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..testing import check_case
    from ..testing.table import all_cases

    cases = all_cases()
    if args.op:
        known = {c.op for c in cases}
        unknown = sorted(set(args.op) - known)
        if unknown:
            raise UserError(f"unknown op {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cases = [c for c in cases if c.op in args.op]
    worst: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    start = time.perf_counter()
    for case in cases:
        err = check_case(case, seed=args.seed)
        worst[case.op] = max(worst[case.op], err)
        counts[case.op] += 1
        failed[case.op] += err >= case.tol
        if args.verbose:
            print(f"  {case.op:<34} {case.config:<44} {err:.1e}")
    width = max(len(op) for op in counts)
    for op in counts:
        status = "ok" if not failed[op] else f"FAIL ({failed[op]} of {counts[op]})"
        print(f"{op:<{width}}  {counts[op]:>3} configs  max rel. error {worst[op]:.1e}  {status}")
    total_failed = sum(failed.values())
    print(f"{len(counts)} ops, {len(cases)} configurations, {total_failed} failed "
          f"({time.perf_counter() - start:.1f} s)")
    return 1 if total_failed else 0
