"""`cityops patrol`: the inspection vehicles' coverage and the route what-if (城市体检智能巡检).

coverage: per street/town, the road cells the vehicles covered in the last N city days (which
streets were inspected this week); route: a route over the road cells that covers the streets and
towns not inspected in those days (the greedy nearest-neighbour route of `sim.patrol`), with its
length and driving time. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import math

from dashboard.commands.common import (
    CliError,
    add_bus_args,
    add_twin_args,
    connect_bus,
    load_twin,
    print_json,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("patrol", help="inspection vehicles: coverage, route what-if")
    sub = p.add_subparsers(dest="patrol_command", metavar="ACTION", required=True)
    q = sub.add_parser("coverage", help="per street/town: road cells covered in the last days")
    q.set_defaults(func=_coverage)
    r = sub.add_parser("route", help="a route covering the streets/towns not inspected lately")
    r.add_argument("--from-lat", type=float, metavar="LAT", help="start (default: the twin's "
                   "centre), on the nearest road cell")
    r.add_argument("--from-lng", type=float, metavar="LNG")
    r.add_argument("--back", action="store_true", help="return to the start")
    r.add_argument("--main-kmh", type=float, default=30.0, help="speed on main corridors")
    r.add_argument("--local-kmh", type=float, default=15.0, help="speed on other roads")
    r.set_defaults(func=_route)
    for parser in (q, r):
        parser.add_argument("--days", type=int, default=7, metavar="N",
                            help="the last N city days, today included (default 7: this week)")
        add_twin_args(parser)
        add_bus_args(parser)


def covered_positions(args, twin):
    """Twin positions the vehicles covered in the last `--days` city days (`TrackGate`)."""
    import time

    from layers.live.tracks import TrackGate, recent_days

    try:
        days = recent_days(args.days, time.time(), twin.timezone)
    except ValueError as exc:
        raise CliError(f"--{exc}") from exc
    return TrackGate(connect_bus(args), twin).covered_positions(days)


def _coverage(args) -> int:
    from sim.patrol import coverage

    twin = load_twin(args)
    table = coverage(twin, covered_positions(args, twin))
    print_json([{**row, "share": None if math.isnan(row["share"]) else round(row["share"], 3)}
                for row in table.to_dict("records")])
    return 0


def _route(args) -> int:
    from sim.patrol import RoadNetwork, Speeds, coverage, plan_route, uninspected

    if (args.from_lat is None) != (args.from_lng is None):
        raise CliError("give both --from-lat and --from-lng, or neither (the twin's centre)")
    twin = load_twin(args)
    try:
        network = RoadNetwork(twin, Speeds(args.main_kmh, args.local_kmh))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    try:
        start = network.start(args.from_lat, args.from_lng)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    table = coverage(twin, covered_positions(args, twin))
    todo = uninspected(table)
    route = plan_route(network, start, todo, back_to_start=args.back)
    names = dict(zip(table["unit"].astype(int), table["name"], strict=True))
    print_json({"not_inspected": [names[u] for u in todo],
                "order": [names.get(u, str(u)) for u in route.units],
                "unreachable": [names.get(u, str(u)) for u in route.unreachable],
                "cells": len(route.cells), "length_km": round(route.length_m / 1000, 2),
                "time_h": round(route.time_s / 3600, 2),
                "solver": "greedy nearest neighbour over Dijkstra paths (sim.patrol)"})
    return 0
