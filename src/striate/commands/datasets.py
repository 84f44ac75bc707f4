"""``striate datasets``: the datasets striate knows by name, which are on this machine and where,
and how to get the others."""

from __future__ import annotations

import argparse
import json
import os
import textwrap

from . import DATA_DIR_HELP


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "datasets", help="list the datasets, where they are installed and how to get the rest",
        description="List the datasets that --dataset takes by name, whether their files are "
                    "on this machine and in which folder, searched in the order training uses: "
                    "--data-dir, $STRIATE_DATA, system folders (Debian's /usr/share/datasets), "
                    "the user cache (~/.cache/striate). For a missing one, how to get it. "
                    "Nothing is read or downloaded.")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per dataset, instead of the table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..data.catalog import catalog
    from ..data.locate import ENV_VAR, cache_root

    entries = catalog(args.data_dir)
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    env = os.environ.get(ENV_VAR)
    print("Searched in this order: "
          f"--data-dir ({args.data_dir or 'not given'}), ${ENV_VAR} ({env or 'not set'}), "
          f"system folders such as /usr/share/datasets/NAME, {cache_root()}/NAME.\n")
    width = max(len(e.name) for e in entries)
    indent = " " * (width + 13)
    for e in entries:
        if e.installed:
            print(f"{e.name:<{width}}  installed  {e.folder}")
            continue
        print(f"{e.name:<{width}}  missing    {e.about}")
        way = (f"{e.system_package}; or " if e.system_package else "") + (
            f"training downloads {e.source} into {e.download_to} on first use")
        print(textwrap.fill(way, width=100, initial_indent=indent + "get it: ",
                            subsequent_indent=indent + "  ", break_on_hyphens=False,
                            break_long_words=False))
    installed = sum(e.installed for e in entries)
    print(f"\n{installed} of {len(entries)} installed. For files already downloaded elsewhere, "
          f"pass --data-dir FOLDER or set {ENV_VAR}=FOLDER.\nTrain with 'striate train "
          "--dataset NAME'.")
    return 0
