"""A fixture for the convolution tests: plans are cached per geometry (and settings), not per
threshold, so a test that changes a threshold must not meet plans made before or after it."""

import pytest

from striate.kernels import conv_plan


@pytest.fixture(autouse=True)
def fresh_plans(monkeypatch):
    """Forget every plan before the test and again after its monkeypatches are undone."""
    conv_plan.clear_cache()
    yield
    monkeypatch.undo()
    conv_plan.clear_cache()
