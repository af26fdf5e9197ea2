"""`cityops bridge mqtt`: the MQTT door, from a broker's topics into the event streams."""

from __future__ import annotations

import argparse

from dashboard.commands.common import CliError, add_bus_args, add_twin_args, connect_bus, load_twin


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bridge", help="doors into the event streams (MQTT)")
    doors = parser.add_subparsers(dest="bridge_command", metavar="DOOR", required=True)
    q = doors.add_parser("mqtt", help="subscribe to PREFIX/iot|video|incident/# (QoS 1, a "
                         "persistent session) and append each message's events to the streams")
    q.add_argument("--broker", metavar="URL", help="mqtt://host:port or mqtts://host:port "
                   "(default: the demo's embedded broker on 127.0.0.1:1883)")
    q.add_argument("--username", metavar="U")
    q.add_argument("--password", metavar="P")
    q.add_argument("--tls", action="store_true", help="TLS to the broker (as mqtts://)")
    q.add_argument("--topic-prefix", default="cityops", metavar="PREFIX")
    q.add_argument("--client-id", default="cityops-bridge", metavar="ID",
                   help="the persistent session's id (one per bridge)")
    q.add_argument("--max-bytes", type=int, default=1_000_000, metavar="N",
                   help="largest payload accepted (default 1 MB)")
    add_twin_args(q, required=False)
    add_bus_args(q)
    q.set_defaults(func=_mqtt)


def _mqtt(args: argparse.Namespace) -> int:
    import signal
    import sys

    from layers.live.mqtt import Bridge, BridgeError, Broker

    if args.max_bytes < 1:
        raise CliError(f"--max-bytes must be positive, got {args.max_bytes}")
    if not args.twin and not args.demo:
        args.demo = "binhai"
    try:
        if args.broker:
            broker = Broker.parse(args.broker, args.username, args.password, args.tls)
        else:
            from dashboard.broker import DEFAULT_PORT, credentials
            from twin.settings import number

            user, password = credentials()
            broker = Broker("127.0.0.1", int(number("CITYOPS_MQTT_PORT", DEFAULT_PORT)),
                            args.tls, args.username or user, args.password or password)
    except BridgeError as exc:
        raise CliError(str(exc)) from exc
    twin = load_twin(args)
    bus = connect_bus(args)
    bridge = Bridge(bus, twin, broker, args.topic_prefix, args.client_id, args.max_bytes)
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(1))
    print(f"bridge: {broker.host}:{broker.port} {args.topic_prefix}/iot|video|incident/# -> "
          f"{bus.keys.streams_text()}", file=sys.stderr, flush=True)
    bridge.run(lambda: bool(stopping))
    bus.close()
    return 0
