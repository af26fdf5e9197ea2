"""What every command group shares: the CLI error, twin selection, JSON output, progress bars."""

from __future__ import annotations

import argparse
import json
import sys


class CliError(Exception):
    """Bad input to a command: printed as one line, exit code 2."""


def add_twin_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--twin DIR | --demo binhai` (+ `--resolution` for the demo)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--twin", metavar="DIR", help="a twin folder written by `cityops twin build`")
    group.add_argument("--demo", choices=["binhai"], help="the built-in demo twin")
    parser.add_argument("--demo-resolution", type=int, default=9, metavar="R",
                        help="H3 resolution of the demo twin (default 9)")


def add_bus_args(parser: argparse.ArgumentParser) -> None:
    """`--redis URL` and `--prefix` for commands that read or write the bus."""
    parser.add_argument("--redis", metavar="URL", help="Redis URL (default $REDIS_URL, else the "
                        "embedded server under $CITYOPS_HOME)")
    parser.add_argument("--prefix", default="cityops:", help="key prefix (default cityops:)")


def connect_bus(args: argparse.Namespace):
    """The bus chosen by `--redis`/`--prefix`; an unreachable or bad one is a CliError."""
    from layers.bus import BusError, connect

    try:
        return connect(args.redis, prefix=args.prefix)
    except BusError as exc:
        raise CliError(str(exc)) from exc


def load_twin(args: argparse.Namespace):
    """The twin chosen by `--twin` or `--demo`; bad folders are a CliError."""
    from twin import Twin, TwinInputError

    try:
        if getattr(args, "demo", None):
            from twin.demo import binhai

            return binhai(resolution=args.demo_resolution)
        return Twin.load(args.twin)
    except (FileNotFoundError, TwinInputError, ValueError) as exc:
        raise CliError(str(exc)) from exc


def print_json(obj) -> None:
    """Pretty JSON on stdout, Chinese kept readable (numpy values as plain numbers)."""
    from sim.runner import jsonable

    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=jsonable)
    sys.stdout.write("\n")


def progress(total: float, desc: str, unit: str = "it"):
    """A tqdm progress bar on stderr (quiet when stderr is not a terminal and CI is set)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5)
