"""`cityops`: the command-line entry point and composition root.

Each command group lives in `dashboard.commands.<group>` with a `register(subparsers)` function;
those modules import only argparse at the top and load heavy libraries inside their handlers, so
`cityops twin info` never loads Dash. Bad input ends with one line on stderr and exit code 2; a
flag no command knows is refused by the sub-command it was given to, with that command's usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dashboard.commands.common import CliError

GROUPS = ("twin", "sim", "layers", "patrol", "cases", "enforce", "bus", "bridge", "serve",
          "demo")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose every (sub-)parser refuses the arguments it does not know itself.

    Plain argparse hands a sub-command's unknown arguments up to the root parser, which then
    prints the root's usage; here the innermost parser that saw them says so, with its usage.
    Sub-parsers are made of the same class (argparse's default `parser_class`).
    """

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cityops", description="CityOps Twin command line")
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
