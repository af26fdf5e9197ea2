"""`cityops serve`: the dashboard alone, on a given twin."""

from __future__ import annotations

import argparse

from dashboard.commands.common import add_twin_args, load_twin


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the dashboard on http://HOST:PORT")
    add_twin_args(parser, required=False)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dashboard.app import create_app

    if not args.twin and not args.demo:
        args.demo = "binhai"
    app = create_app(load_twin(args))
    print(f"CityOps Twin dashboard on http://{args.host}:{args.port}", flush=True)
    app.run(host=args.host, port=args.port, debug=False)
    return 0
