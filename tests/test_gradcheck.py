"""The gradient-check table: every differentiable op against central differences in float64."""

import pytest

from striate.testing import check_case
from striate.testing.table import all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.op}[{c.config}]" for c in CASES])
def test_backward_matches_central_differences(case):
    err = check_case(case)
    assert err < case.tol, f"{case.op} ({case.config}): relative error {err:.2e}"


def test_table_covers_every_functional_op():
    """Each differentiable name in nn.functional has at least one case in the table."""
    import striate.nn.functional as F

    not_differentiable: set[str] = set()
    covered = {c.op for c in CASES}
    public = {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))}
    missing = sorted(public - covered - not_differentiable)
    assert not missing, f"ops without a gradient check: {missing}"
