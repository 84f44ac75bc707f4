"""Gradient-check cases, one module per op family, each defining ``CASES: list[Case]``."""
