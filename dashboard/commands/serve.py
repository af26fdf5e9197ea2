"""`cityops serve`: the dashboard alone, against a given Redis and twin."""

from __future__ import annotations

import argparse
import os
import signal

from dashboard.commands.common import CliError, add_twin_args, load_twin


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the dashboard on http://HOST:PORT")
    add_twin_args(parser, required=False)
    parser.add_argument("--redis", metavar="URL",
                        help="the live bus (default $REDIS_URL, else the embedded Redis)")
    parser.add_argument("--no-bus", action="store_true",
                        help="serve the twin's static layers only, with no live bus")
    parser.add_argument("--users", metavar="FILE",
                        help="users file (default $CITYOPS_USERS, else data/users.yaml)")
    parser.add_argument("--open311-keys", metavar="K1,K2",
                        default=os.environ.get("CITYOPS_OPEN311_KEYS", ""),
                        help="API keys accepted by POST /open311/v2/requests.json")
    parser.add_argument("--tile-url", metavar="URL", default=os.environ.get("CITYOPS_TILE_URL"),
                        help="optional raster basemap, an XYZ template http://.../{z}/{x}/{y}.png")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dashboard.app import create_app

    if not args.twin and not args.demo:
        args.demo = "binhai"
    twin = load_twin(args)
    bus = None
    if not args.no_bus:
        from layers.live.bus import BusError, connect

        try:
            bus = connect(args.redis)
        except BusError as exc:
            raise CliError(str(exc)) from exc
    keys = {k.strip() for k in args.open311_keys.split(",") if k.strip()}
    try:
        app = create_app(twin, bus=bus, api_keys=keys, users=args.users, tile_url=args.tile_url)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc) if args.users is None or str(args.users) in str(exc)
                       else f"{args.users}: {exc}") from exc
    print(f"CityOps Twin dashboard on http://{args.host}:{args.port}", flush=True)

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop like Ctrl-C: the bus is closed
        signal.signal(sig, interrupt)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    except KeyboardInterrupt:
        pass
    finally:
        if bus is not None:
            bus.close()  # an embedded server nobody else uses stops with us
    return 0
