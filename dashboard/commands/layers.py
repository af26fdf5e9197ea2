"""`cityops ingest`, `cityops feed` and `cityops layers list|dump|export|stats`: the live-layer
commands."""

from __future__ import annotations

import argparse

from dashboard.commands.common import (
    CliError,
    add_bus_args,
    add_twin_args,
    connect_bus,
    load_twin,
    print_json,
)


def register(subparsers) -> None:
    """Add the `ingest`, `feed` and `layers` commands."""
    p = subparsers.add_parser("ingest", help="run an ingest worker on the event streams")
    add_twin_args(p)
    add_bus_args(p)
    p.add_argument("--consumer", metavar="NAME", help="consumer name in group `ingest` "
                   "(unique per running worker; default worker-PID)")
    p.add_argument("--until-idle", action="store_true",
                   help="stop when the streams are drained instead of running until Ctrl-C")
    p.add_argument("--partitions", type=int, metavar="P", help="partition the streams by cell "
                   "into P (first start only; default $CITYOPS_PARTITIONS, else 1); every "
                   "`cityops ingest` on the bus takes its share")
    p.add_argument("--max-seconds", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--checkpoint-s", type=float, default=0.5, help=argparse.SUPPRESS)
    p.add_argument("--lease-ms", type=int, default=10_000, help=argparse.SUPPRESS)
    p.set_defaults(func=_ingest)

    p = subparsers.add_parser("feed", help="publish a synthetic event feed from the twin")
    add_twin_args(p)
    add_bus_args(p)
    p.add_argument("--rate", type=float, required=True, metavar="EVENTS_PER_S")
    p.add_argument("--duration", type=float, required=True, metavar="S")
    p.add_argument("--batch", type=int, default=1000, metavar="N",
                   help="events per Arrow batch entry; 1 = one flat entry per event")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_feed)

    p = subparsers.add_parser("layers", help="read the live layers")
    sub = p.add_subparsers(dest="layers_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="layer and window names (JSON)")
    q.set_defaults(func=_list)
    q = sub.add_parser("dump", help="one layer as {H3 cell: value} for non-zero cells (JSON)")
    q.add_argument("layer")
    q.add_argument("--window", default="1h", help="5m, 1h or 24h (default 1h)")
    add_bus_args(q)
    q.set_defaults(func=_dump)
    q = sub.add_parser("export", help="the per-minute history of a time range as one netCDF "
                                      "file (time x cell, CF-1.10 + xdggs)")
    q.add_argument("--from", dest="start", required=True, metavar="TIME",
                   help="first minute: ISO 8601 (e.g. 2026-01-01T08:00+08:00) or epoch seconds")
    q.add_argument("--to", dest="end", required=True, metavar="TIME", help="last minute")
    q.add_argument("--layers", nargs="+", metavar="LAYER", help="layers (default: all)")
    q.add_argument("--out", required=True, metavar="FILE.nc")
    add_bus_args(q)
    q.set_defaults(func=_export)
    q = sub.add_parser("stats", help="ingest health: events/s, lag, pending, dead letters (JSON)")
    add_bus_args(q)
    q.set_defaults(func=_stats)


def _positive(args, *names) -> None:
    for name in names:
        if getattr(args, name) <= 0:
            raise CliError(f"--{name} must be positive, got {getattr(args, name)}")


def _ingest(args) -> int:
    import signal
    import sys
    import time

    from layers.live.producer import LayoutError, layout
    from layers.live.worker import Worker, WorkerError

    twin = load_twin(args)
    bus = connect_bus(args)
    try:
        parts = layout(bus, twin, args.partitions)
    except (LayoutError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    if parts.count > 1:
        return _ingest_fleet(args, bus, twin, parts)
    worker = Worker(bus, twin, consumer=args.consumer, checkpoint_s=args.checkpoint_s,
                    lease_ms=args.lease_ms)
    stopping = []  # SIGTERM / Ctrl-C stop between two steps, never inside one
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    start = time.monotonic()
    try:
        worker.start()
        print(f"ingest: consumer {worker.consumer} on {bus.keys.streams_text()} "
              f"({len(twin)} cells)", file=sys.stderr, flush=True)
        if args.until_idle:
            worker.drain(idle_reads=2, stop=lambda: bool(stopping))
        else:
            limit = args.max_seconds
            worker.run(lambda: bool(stopping) or (limit is not None
                                                  and time.monotonic() - start > limit))
    except WorkerError as exc:
        raise CliError(str(exc)) from exc
    finally:
        worker.close()
    worker.release()
    bus.close()
    return 0


def _ingest_fleet(args, bus, twin, parts) -> int:
    """`cityops ingest` over P partitions: this process takes its share of the leases."""
    import os
    import signal
    import sys
    import time

    from layers.live.fleet import Fleet

    fleet = Fleet(bus, twin, args.consumer or f"ingest-{os.getpid()}", parts,
                  checkpoint_s=args.checkpoint_s, lease_ms=args.lease_ms)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    start = time.monotonic()
    print(f"ingest: consumer {fleet.consumer} on {parts.count} partitions of "
          f"{bus.keys.streams_text()} ({len(twin)} cells)", file=sys.stderr, flush=True)
    if args.until_idle:
        fleet.drain_all(timeout_s=60.0 + args.lease_ms / 1000.0, stop=lambda: bool(stopping))
        fleet.stop()
    else:
        limit = args.max_seconds
        fleet.run(lambda: bool(stopping) or (limit is not None
                                             and time.monotonic() - start > limit))
    bus.close()
    return 0


def _feed(args) -> int:
    from layers.live.feed import run

    _positive(args, "rate", "duration", "batch")
    twin = load_twin(args)
    bus = connect_bus(args)
    sent = run(bus, twin, args.rate, args.duration, batch=args.batch, seed=args.seed)
    bus.close()
    print_json({"sent": sent, "total": sum(sent.values())})
    return 0


def _list(args) -> int:
    from layers.live.schema import LAYERS, WINDOWS

    print_json({"layers": LAYERS, "windows": list(WINDOWS)})
    return 0


def _dump(args) -> int:
    from layers.live.schema import check_layer, check_window
    from layers.live.snapshot import SnapshotStore

    try:
        check_layer(args.layer)
        check_window(args.window)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    bus = connect_bus(args)
    print_json(SnapshotStore(bus).dump(args.layer, args.window))
    bus.close()
    return 0


def _export(args) -> int:
    import sys

    from dashboard.commands.common import check_output
    from layers.live import history
    from layers.live.schema import check_layer

    check_output(args.out, "--out", (".nc",))
    times = [float(t) if t.replace(".", "", 1).isdigit() else t for t in (args.start, args.end)]
    try:
        for layer in args.layers or []:
            check_layer(layer)
        bus = connect_bus(args)
        path = history.export(bus.history_dir, *times, args.out, args.layers)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(" ".join(str(exc).split())) from exc
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _stats(args) -> int:
    from layers.live.worker import stats

    bus = connect_bus(args)
    print_json(stats(bus))
    bus.close()
    return 0
