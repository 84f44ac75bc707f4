"""Errors a user can fix: the command line prints their message on one line and exits with 2."""


class UserError(Exception):
    """A problem with what the user asked for (a missing file, a bad option), not a bug."""
