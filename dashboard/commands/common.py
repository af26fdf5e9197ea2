"""What every command group shares: the CLI error, twin selection, actors, output paths, paging,
JSON output, progress bars."""

from __future__ import annotations

import argparse
import json
import sys


class CliError(Exception):
    """Bad input to a command: printed as one line, exit code 2."""


DEMOS = ("binhai", "tianjin")  # the built-in demo twins (twin.demo.DEMOS)


def add_twin_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--twin DIR | --demo binhai|tianjin` (+ `--demo-resolution` for the demo)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--twin", metavar="DIR", help="a twin folder written by `cityops twin build`")
    group.add_argument("--demo", choices=DEMOS, help="a built-in demo twin: binhai (one "
                       "district) or tianjin (the whole city)")
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

    if getattr(args, "demo", None):
        return demo_twin(args.demo_resolution, name=args.demo)
    try:
        return Twin.load(args.twin)
    except (FileNotFoundError, TwinInputError, ValueError) as exc:
        raise CliError(str(exc)) from exc


def demo_twin(resolution: int, seed: int = 0, name: str = "binhai"):
    """A demo twin (default Binhai); a resolution outside its range, or one that would make
    too many cells, is a CliError saying which fits."""
    from twin.demo import demo
    from twin.errors import TwinInputError

    try:
        return demo(name, resolution=resolution, seed=seed)
    except TwinInputError as exc:
        raise CliError(str(exc)) from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc


OPERATOR = "operator"  # `--actor operator`: the local operator, recorded with the OS user


def os_user() -> str:
    """The OS user running the command (uid:N when the system cannot name it)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def resolve_actor(name: str):
    """(actor, context, user) for `--actor NAME`: a user of the users file (user: the `User`),
    or `operator` (user: None); context `{os_user, via}` goes beside it into the audit record,
    so the record says who typed the command as well as on whose behalf."""
    from dashboard.users import UsersFileError, load_users
    from twin.settings import users_file

    context = {"os_user": os_user(), "via": "cli"}
    if name == OPERATOR:
        return OPERATOR, context, None
    try:
        users = load_users()
    except UsersFileError as exc:
        raise CliError(str(exc)) from exc
    if name not in users:
        raise CliError(f"--actor {name!r} is not a user of {users_file()}: give one of "
                       f"{', '.join(sorted(users))}, or --actor {OPERATOR} to act as the local "
                       f"operator ({context['os_user']})")
    return name, context, users[name]


def check_output(path: str, flag: str, suffixes: tuple[str, ...]) -> None:
    """Refuse an output file before any work: its folder must exist and be writable, the name
    must end in one of `suffixes`, and it must not be a folder."""
    import os
    from pathlib import Path

    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise CliError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"{flag} {path}: the folder {folder} does not exist: create it or write "
                       f"elsewhere")
    if out.is_dir():
        raise CliError(f"{flag} {path}: is a folder: give a file name")
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CliError(f"{flag} {path}: cannot write there (permission denied): write elsewhere")


def add_page_args(parser: argparse.ArgumentParser, limit: int) -> None:
    """`--limit N` (default `limit`) and `--offset N` for lists shown newest first."""
    parser.add_argument("--limit", type=int, default=limit, metavar="N",
                        help=f"how many to show (default {limit})")
    parser.add_argument("--offset", type=int, default=0, metavar="N",
                        help="how many of the newest to skip (default 0)")


def check_page(args: argparse.Namespace) -> None:
    if args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}")
    if args.offset < 0:
        raise CliError(f"--offset must be 0 or more, got {args.offset}")


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
    """numpy values as plain JSON (a non-finite numpy float as null)."""
    import numpy as np

    from sim.runner import jsonable

    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    return jsonable(obj)


def progress(total: float, desc: str, unit: str = "it"):
    """A tqdm progress bar on stderr (quiet when stderr is not a terminal and CI is set)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5)
