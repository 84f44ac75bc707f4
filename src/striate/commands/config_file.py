"""A command's options in a TOML file (``striate train --config run.toml``), read and written.

The keys are the long option names, with dashes or underscores (``batch-size = 64`` or
``batch_size = 64``); a flag takes ``true`` or ``false``; an option that takes JSON
(``--model-args``) takes a JSON string or a TOML table. The file's values become the parser's
defaults, so every option given on the command line overrides them. An unknown key or a value
of the wrong type is refused with the key's name, before anything runs.

:func:`toml_text` writes the options back (the run folder's ``config.toml``): one ``key =
value`` line per option that has a value, so the file read back gives the same options.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UserError


def option_name(action: argparse.Action) -> str:
    """The key of an option in the file: its long name without the dashes (``batch-size``)."""
    return max(action.option_strings, key=len).lstrip("-")


def file_options(parser: argparse.ArgumentParser,
                 skip: Iterable[str] = ()) -> dict[str, argparse.Action]:
    """The options a file may set, by every spelling of their key: long names with dashes and
    with underscores (help, version and the ``skip`` destinations left out)."""
    keys: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if (not action.option_strings or action.dest in (*skip, argparse.SUPPRESS)
                or isinstance(action, (argparse._HelpAction, argparse._VersionAction))):
            continue
        for option in action.option_strings:
            if option.startswith("--"):
                keys[option[2:]] = keys[option[2:].replace("-", "_")] = action
    return keys


def read_defaults(parser: argparse.ArgumentParser, path: str | Path,
                  skip: Iterable[str] = ()) -> dict[str, Any]:
    """The parser defaults (destination → value) that the TOML file at ``path`` sets, checked
    against the parser's options: their names, types and choices."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise UserError(f"--config {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"--config {path}: not valid TOML ({e})") from None
    options = file_options(parser, skip)
    defaults: dict[str, Any] = {}
    for key, value in table.items():
        action = options.get(key)
        if action is None:
            raise UserError(f"--config {path}: unknown key {key!r} (the keys are the options of "
                            f"'{parser.prog}', see --help)")
        defaults[action.dest] = _checked(action, value, f"--config {path}: {key}")
    return defaults


def _checked(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` as the option's destination takes it, or a UserError naming ``where``."""
    if action.nargs == 0:  # a flag: true means given
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return action.const if value else action.default
    if isinstance(value, dict) and action.metavar == "JSON":
        return json.dumps(value)
    kind = action.type or str
    wrong = isinstance(value, bool) or not (
        isinstance(value, str) if kind is str else
        isinstance(value, int) if kind is int else
        isinstance(value, (int, float)) if kind is float else
        isinstance(value, (str, int, float)))
    if wrong:
        expected = {str: "a string", int: "an integer", float: "a number"}.get(kind, "a value")
        raise UserError(f"{where} must be {expected}, got {value!r}")
    if kind not in (str, int, float):  # another converter: give it the command line's text
        try:
            value = kind(str(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
            raise UserError(f"{where}: {e}") from None
    value = float(value) if kind is float else value
    if action.choices is not None and value not in action.choices:
        raise UserError(f"{where} must be one of {', '.join(map(str, action.choices))}, "
                        f"got {value!r}")
    return value


def toml_text(parser: argparse.ArgumentParser, values: argparse.Namespace,
              skip: Iterable[str] = (), header: str = "") -> str:
    """The options of ``values`` as a TOML file :func:`read_defaults` reads back: every option of
    ``parser`` but the ``skip`` destinations, in the parser's order; an option without a value
    (None) is left out, so that it takes its default again."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    seen = set()
    for action in file_options(parser, skip).values():
        if action.dest in seen:
            continue
        seen.add(action.dest)
        value = getattr(values, action.dest, None)
        if action.nargs == 0:
            value = value == action.const
        if value is not None:
            lines.append(f"{option_name(action)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    """A TOML literal: booleans, integers, floats (``inf``, ``nan`` included) and strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)  # inf, -inf, nan
    # JSON's escapes are TOML's, but for DEL, which TOML wants escaped too
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
