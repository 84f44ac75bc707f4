"""The sub-commands of the ``striate`` command line, one module each, and what their parsers
share: the help layout and the version."""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
from collections.abc import Callable
from typing import Any

#: ``--data-dir``'s help, as ``data/locate.py`` looks (and downloads).
DATA_DIR_HELP = ("where the dataset files are, or go when downloaded (default: $STRIATE_DATA, "
                 "else /usr/share/datasets, else ~/.cache/striate)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once: appended as ``(default: X)`` unless the help text
    already says it (the word "default" in it, for a default that needs words, such as "the one
    it was trained on"), and not for flags (their default is "not given") or a default of None
    (the help text must say then what happens without the option)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text.lower() or action.nargs == 0 or action.required
                or action.default in (None, argparse.SUPPRESS)):
            return text
        return text + " (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """The parser of every sub-command (and of theirs): :class:`HelpFormatter` unless another
    layout is asked for.

    ``defaults_from``, where a command sets it, reads new defaults from a first parse (``train
    --config FILE``: the file's options); the arguments are then parsed again on those, so that
    the command line overrides them. A :class:`~striate.errors.UserError` it raises is the
    command's one-line error (exit status 2)."""

    defaults_from: Callable[[argparse.ArgumentParser, argparse.Namespace], dict[str, Any]] | None
    defaults_from = None

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self.defaults_from is None:
            return super().parse_known_args(args, namespace)
        first, _ = super().parse_known_args(args, copy.copy(namespace))
        from ..errors import UserError

        try:
            self.set_defaults(**self.defaults_from(self, first))
        except UserError as e:
            self.exit(2, f"{self.prog}: error: {e}\n")
        return super().parse_known_args(args, namespace)


def version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("striate")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


def add_conv_plan_option(parser: argparse.ArgumentParser) -> None:
    """``--conv-plan``, for the commands that tune the process (``cli.TUNED``)."""
    parser.add_argument(
        "--conv-plan", choices=("measured", "rules"), default="measured",
        help="how each convolution chooses its algorithms: 'measured' times the candidates on "
             "the first call with each new shape and keeps the fastest, on this machine for "
             "good (st.backends.conv.benchmark, choices kept in "
             "~/.cache/striate/conv-plans.json); 'rules' by fixed thresholds")


_arguments: list[str] | None = None  # what cli.main was last given, for command_line()


def record_arguments(arguments: list[str]) -> None:
    """Remember the arguments ``striate.cli.main`` runs with, for :func:`command_line`."""
    global _arguments
    _arguments = list(arguments)


def command_line() -> str:
    """The command this process runs, quoted for a shell: ``striate`` and the arguments
    ``cli.main`` was given (``sys.argv`` where it was not called), so a run folder records how to
    repeat the run however it was started (console script, ``python -m``, or from Python)."""
    if _arguments is None:
        return shlex.join(sys.argv)
    return shlex.join(["striate", *_arguments])
