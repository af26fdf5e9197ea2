"""`cityops patrol coverage|route`: which streets/towns the vehicles inspected this week, and a
route over those they did not (the inspection-vehicle what-if)."""

from __future__ import annotations

import json
import time

import pytest

from dashboard.cli import main
from layers.live.producer import Producer
from tests.layers.test_vehicle import fix, road


@pytest.fixture()
def twin_dir(twin, tmp_path):
    twin.save(tmp_path / "small")
    return str(tmp_path / "small")


def _drive_first_street(bus, twin) -> int:
    """Fixes on the first road cells of one street/town (a slow drive); returns its unit."""
    cells = road(twin)
    unit = int(twin.ds["unit"].values[cells[0]])
    mine = [c for c in cells if int(twin.ds["unit"].values[c]) == unit][:3]
    now = time.time()
    Producer(bus, twin).publish("vehicle", [fix(twin, i, c, now - 600 + 60 * i)
                                            for i, c in enumerate(mine)])
    return unit


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def test_coverage_marks_the_street_the_vehicle_drove_as_inspected(bus, twin, twin_dir, capsys):
    unit = _drive_first_street(bus, twin)
    code, out = _run(capsys, "patrol", "coverage", "--twin", twin_dir, "--prefix", bus.prefix)
    rows = {r["unit"]: r for r in json.loads(out.out)}
    assert code == 0 and rows[unit]["inspected"] and rows[unit]["covered_cells"] >= 1
    assert [u for u, r in rows.items() if r["inspected"]] == [unit]


def test_the_route_covers_only_the_streets_not_inspected_with_length_and_time(bus, twin,
                                                                             twin_dir, capsys):
    unit = _drive_first_street(bus, twin)
    lat, lng = twin.centers
    start = road(twin)[0]  # in the street already inspected: the route has to drive
    code, out = _run(capsys, "patrol", "route", "--twin", twin_dir, "--prefix", bus.prefix,
                     "--from-lat", str(lat[start]), "--from-lng", str(lng[start]))
    plan = json.loads(out.out)
    names = dict(zip(twin.units["unit"].astype(int), twin.units["name"], strict=True))
    assert code == 0 and names[unit] not in plan["not_inspected"]
    assert sorted(plan["order"] + plan["unreachable"]) == sorted(plan["not_inspected"])
    assert plan["length_km"] > 0 and plan["time_h"] > 0


def test_days_beyond_what_is_kept_exit_2_with_one_line(bus, twin_dir, capsys):
    code, out = _run(capsys, "patrol", "coverage", "--twin", twin_dir, "--days", "30")
    assert code == 2 and "--days must be from 1 to 15" in out.err
    assert len(out.err.strip().splitlines()) == 1
