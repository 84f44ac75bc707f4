"""The one exception type of the data package.

A ``DatasetError`` means the data on disk (or the lack of it) is the problem, not the caller's
code: its message names the file or directory, says what is wrong, and says what to do about it.
It subclasses ``ValueError`` so callers that already catch bad values keep working.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset file is missing, truncated, corrupt, or not in the expected format."""
