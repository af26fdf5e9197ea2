"""`cityops`: the command-line entry point and composition root.

Each command group lives in `dashboard.commands.<group>` with a `register(subparsers)` function;
those modules import only argparse at the top and load heavy libraries inside their handlers, so
`cityops twin info` never loads Dash. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dashboard.commands.common import CliError

GROUPS = ("twin", "sim", "layers", "cases", "serve", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityops", description="CityOps Twin command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        try:
            module = importlib.import_module(f"dashboard.commands.{group}")
        except ModuleNotFoundError as exc:  # a group not built yet in this checkout
            if exc.name != f"dashboard.commands.{group}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"cityops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
