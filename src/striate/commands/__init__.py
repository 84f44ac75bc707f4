"""The sub-commands of the ``striate`` command line, one module each, and what their parsers
share: the help layout and the version."""

from __future__ import annotations

import argparse

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
    layout is asked for."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


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
