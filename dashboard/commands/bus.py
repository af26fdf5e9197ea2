"""`cityops bus info`: where producers send events (the URL, password masked), the streams."""

from __future__ import annotations

import argparse

from dashboard.commands.common import add_bus_args, connect_bus, print_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bus", help="the event bus: the URL to give producers")
    actions = parser.add_subparsers(dest="bus_command", metavar="ACTION", required=True)
    q = actions.add_parser("info", help="the producer URL (password masked), streams, groups")
    q.add_argument("--show-secret", action="store_true", help="print the password in the URL")
    add_bus_args(q)
    q.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from layers.keys import KINDS

    bus = connect_bus(args)
    partitions = bus.partitions()
    print_json({"producer_url": bus.producer_url(show_secret=args.show_secret),
                "embedded": bus.embedded, "prefix": bus.prefix,
                "partitions": len(partitions),
                "streams": {kind: [bus.stream(kind, p) for p in partitions]
                            for kind in KINDS},
                "dead_letters": [bus.keys.partition(p).dead for p in partitions]})
    bus.close()
    return 0
