"""The gradient-check table: every differentiable op against central differences in float64."""

import pytest

import striate as st
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


CONVOLUTIONS = [c for c in CASES if c.op in ("conv2d", "conv2d_relu", "conv_transpose2d")]


@pytest.mark.parametrize("case", CONVOLUTIONS, ids=[f"{c.op}[{c.config}]" for c in CONVOLUTIONS])
def test_convolutions_on_im2col_match_central_differences(case, monkeypatch):
    """The table's convolutions take the direct loops or Winograd where their shapes do; here
    they run again with every convolution on im2col, so that path keeps its check too."""
    with st.backends.flags(direct=False, winograd=False):
        err = check_case(case)
    assert err < case.tol, f"{case.op} ({case.config}): relative error {err:.2e}"
