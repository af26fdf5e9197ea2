"""`cityops demo`: the whole system on the embedded defaults (what `make demo` runs).

Embedded Redis, the Binhai demo twin, the synthetic feed, ingest, the rules engine, one
inspection vehicle driving the corridors (shown on the wall), the enforcement workload (draws, cases, fines paid through the simulator gateway) and the dashboard
on http://127.0.0.1:8050, with live counts printed until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os

from dashboard.commands.common import DEMOS, demo_twin, print_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the whole demo system on the embedded defaults")
    parser.add_argument("--demo", choices=DEMOS, default="binhai",
                        help="the demo city: binhai (one district, default) or tianjin (the "
                             "whole city, 16 districts)")
    parser.add_argument("--resolution", type=int, default=9, help="H3 resolution (default 9)")
    parser.add_argument("--seed", type=int, default=0, help="demo seed (default 0)")
    parser.add_argument("--rate", type=float, default=300.0, help="feed events/s (default 300)")
    parser.add_argument("--redis", metavar="URL", help="an external Redis (default: embedded)")
    parser.add_argument("--host", default="127.0.0.1", help="dashboard address")
    parser.add_argument("--port", type=int, default=8050, help="dashboard port (default 8050)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--no-responders", action="store_true",
                        help="no simulated responders: cases wait for people to act")
    parser.add_argument("--broker", metavar="URL", help="an external MQTT broker for the IoT "
                        "feed (default: an embedded one on 127.0.0.1:1883)")
    parser.add_argument("--broker-user", metavar="U", help="the external broker's user")
    parser.add_argument("--broker-password", metavar="P", help="the external broker's password")
    parser.add_argument("--no-mqtt", action="store_true",
                        help="feed IoT straight into Redis (no broker, no bridge)")
    parser.add_argument("--twin-only", action="store_true",
                        help="only build the demo twin and print its summary")
    parser.add_argument("--open311-keys", metavar="K1,K2",
                        default=os.environ.get("CITYOPS_OPEN311_KEYS", ""),
                        help="API keys accepted by POST /open311/v2/requests.json, as for "
                             "`cityops serve` (default $CITYOPS_OPEN311_KEYS, else a key made "
                             "once under $CITYOPS_HOME, printed at start)")
    parser.set_defaults(func=run)


def dashboard_service(twin, host: str, port: int):
    """The dashboard as a demo service: served until the demo stops."""
    def loop(bus, stop) -> None:
        import logging
        import threading

        from werkzeug.serving import make_server

        from dashboard.app import create_app
        from twin import settings

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep the live counts readable
        keys = settings.open311_demo_keys()
        print(f"Open311 key (api_key of POST /open311/v2/requests.json): "
              f"{', '.join(sorted(keys))}", flush=True)
        server = make_server(host, port, create_app(twin, bus=bus, api_keys=keys).server,
                             threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            while not stop():
                thread.join(0.5)
        finally:
            server.shutdown()
    return "dashboard", loop


def run(args: argparse.Namespace) -> int:
    if args.open311_keys.strip():  # the dashboard service reads them as `serve` does
        os.environ["CITYOPS_OPEN311_KEYS"] = args.open311_keys
    twin = demo_twin(args.resolution, args.seed, name=args.demo)
    if args.twin_only:
        print_json(twin.summary())
        return 0
    # the services import Flask/werkzeug in their own threads (the dashboard, the rules'
    # Open311 photos): importing them here first keeps two threads from importing one module at
    # once (a partially initialised werkzeug failed both, and they restarted). Not Dash: it sets
    # its callback context in the thread that imports it, which must be the dashboard's.
    import flask  # noqa: F401

    from dashboard.enforce_demo import enforcement_service
    from dashboard.system import (
        DEMO_SHARES,
        demo_feed_options,
        escalation_service,
        responders_service,
        rules_service,
        run_demo,
    )
    from dashboard.vehicle_demo import vehicle_service

    print(f"CityOps Twin: dashboard on http://{args.host}:{args.port}", flush=True)
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    os.environ.setdefault("CITYOPS_PUBLIC_URL", f"http://{local}:{args.port}")  # payment URLs
    services = [rules_service(twin), escalation_service(twin)]
    if not args.no_responders:
        services.append(responders_service())
    broker, embedded = _broker(args)
    try:
        run_demo(twin, rate=args.rate, url=args.redis, duration=args.duration, seed=args.seed,
                 shares=DEMO_SHARES, mqtt=broker, feed_options=demo_feed_options(twin),
                 services=[*services, dashboard_service(twin, args.host, args.port),
                           vehicle_service(twin, seed=args.seed),
                           enforcement_service(twin, f"http://{local}:{args.port}"
                                                     "/api/v1/payments/callback", seed=args.seed)])
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _broker(args):
    """(the broker the feed uses, the embedded broker to stop after) from the flags."""
    from dashboard.commands.common import CliError
    from layers.live.mqtt import BridgeError, Broker

    if args.no_mqtt:
        return None, None
    if args.broker:
        try:
            return Broker.parse(args.broker, args.broker_user, args.broker_password), None
        except BridgeError as exc:
            raise CliError(str(exc)) from exc
    from dashboard.broker import EmbeddedBroker

    try:
        embedded = EmbeddedBroker().start()
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    return Broker("127.0.0.1", embedded.port, False, embedded.user, embedded.password), embedded
