"""Tools to check ops: central-difference gradient checks and the table of cases they run on."""

from .gradcheck import Case, away_from_zero, check_case, distinct, numerical_gradients

__all__ = ["Case", "check_case", "numerical_gradients", "away_from_zero", "distinct"]
