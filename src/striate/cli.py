"""The ``striate`` command line.  Each sub-command lives in ``striate/commands/``.

User errors (a missing dataset, an unknown model, a bad option, an unreadable file) and the
system's refusals (a full disk, a folder without write permission) print one line and exit with
status 2; Ctrl-C exits with 130 and SIGTERM with 143, as shells expect; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import signal
import sys

from .errors import UserError

COMMANDS = ["train", "evaluate", "predict", "export", "summary", "gradcheck", "bench",
            "deconvnet", "datasets"]
TUNED = ("train", "bench")  # commands that tune the process first (st.backends.tune_process)


def build_parser() -> argparse.ArgumentParser:
    from .commands import CommandParser, version

    parser = argparse.ArgumentParser(
        prog="striate",
        description="striate: convolutional neural networks with hand-written backward passes.")
    parser.add_argument("--version", action="version", version=f"striate {version()}",
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=CommandParser)
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"striate.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .commands import record_arguments

    command = "striate"
    record_arguments(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        command = f"striate {args.command}"
        if args.command in TUNED and not getattr(args, "no_tune", False):
            from .backends import tune_process

            tune_process()
        if args.command in TUNED:  # measured plans, kept per machine, for this command only
            from .backends import flags
            from .data.locate import cache_root

            measured = args.conv_plan == "measured"
            with flags(benchmark=measured,
                       benchmark_cache=cache_root() / "conv-plans.json" if measured else None):
                return int(args.run(args) or 0)
        return int(args.run(args) or 0)
    except UserError as e:
        print(f"{command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`striate ... | head`): stop quietly
        _silence_stdout()
        return 128 + signal.SIGPIPE
    except OSError as e:  # the system refused: disk full, permission denied, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"{command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # also SIGTERM, through the trainer's TrainingInterrupted
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"{command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit does not fail again on the
    closed pipe (the recipe of Python's signal documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is no file (captured)
        pass


if __name__ == "__main__":
    sys.exit(main())
