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
    from layers.live.bus import BusError, connect

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
    """Pretty, strict JSON on stdout (no NaN/Infinity: they print as null), Chinese readable."""
    json.dump(_strict(obj), sys.stdout, ensure_ascii=False, indent=2, default=_default,
              allow_nan=False)
    sys.stdout.write("\n")


def _strict(obj):
    """The same data with every non-finite float replaced by None."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    return obj


def _default(obj):
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def progress(total: float, desc: str, unit: str = "it"):
    """A tqdm progress bar on stderr (quiet when stderr is not a terminal and CI is set)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5)
