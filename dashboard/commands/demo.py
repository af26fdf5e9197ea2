"""`cityops demo`: the whole system on the embedded defaults (what `make demo` runs)."""

from __future__ import annotations

import argparse

from dashboard.commands.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="build the Binhai demo twin and run the demo system")
    parser.add_argument("--resolution", type=int, default=9, help="H3 resolution (default 9)")
    parser.add_argument("--seed", type=int, default=0, help="demo seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from twin.demo import binhai, cityops_home

    start = time.perf_counter()
    twin = binhai(resolution=args.resolution, seed=args.seed)
    summary = twin.summary()
    summary["seconds"] = round(time.perf_counter() - start, 2)
    summary["cache"] = str(cityops_home() / "twins")
    print_json(summary)
    return 0
