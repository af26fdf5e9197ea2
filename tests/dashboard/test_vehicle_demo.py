"""The demo's inspection vehicle: a closed route over the corridors, fixes through the door."""

from __future__ import annotations

import numpy as np

from dashboard.live import vehicle_markers
from dashboard.vehicle_demo import corridor_route
from layers.live.tracks import Fix


def test_the_demo_route_steps_between_neighbouring_cells_and_visits_every_street(demo_twin):
    route = corridor_route(demo_twin)
    nb = demo_twin.neighbors
    assert all(b in nb[a] for a, b in zip(route[:-1], route[1:], strict=True))
    units = set(demo_twin.ds["unit"].values[route].tolist())
    assert set(int(u) for u in demo_twin.units["unit"]) <= units


def test_the_demo_route_runs_on_road_cells_only(demo_twin):
    route = corridor_route(demo_twin)
    assert np.all(demo_twin.ds["road_capacity"].values[route] > 0)


def test_a_vehicle_silent_for_more_than_ten_minutes_leaves_the_wall():
    fixes = [Fix("fresh", 1000.0, 39.0, 117.7, 90.0), Fix("old", 500.0, 39.0, 117.7)]
    assert [d["id"] for d in vehicle_markers(fixes, 1099.0)["data"]] == ["fresh", "old"]
    assert [d["id"] for d in vehicle_markers(fixes, 1101.0)["data"]] == ["fresh"]


def test_the_vehicle_service_sends_fixes_the_track_gate_accepts(demo_twin, bus):
    from dashboard.vehicle_demo import vehicle_service
    from layers.live.tracks import TrackGate

    gate = TrackGate(bus, demo_twin)
    name, loop = vehicle_service(demo_twin, every_s=0.2)
    loop(bus, lambda: bool(gate.last_fixes()))  # runs until the first fix is through the door
    fix = gate.last_fixes()[0]
    route = corridor_route(demo_twin)
    assert name == "vehicle" and fix.vehicle == "BH-XJ-01"
    assert demo_twin.locate([fix.lat], [fix.lng])[0] in set(route.tolist()) | set(
        demo_twin.neighbors[route].ravel().tolist())
