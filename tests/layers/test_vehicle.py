"""The inspection vehicle as an event kind: its fixes count, its detections count, an impossible
jump is refused at the door and dead-lettered, coverage is kept by city day."""

from __future__ import annotations

import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.patrol import VehicleFeed
from layers.live.producer import Producer
from layers.live.tracks import MAX_SPEED_KMH, TrackGate, city_days
from layers.live.worker import Worker
from layers.testing import raw
from twin import crs as crs_mod

NOW = time.time()
M_PER_DEG = 111_195.0


def road(twin) -> np.ndarray:
    """The small twin's road cells, west to east."""
    cells = np.flatnonzero(twin.ds["road_capacity"].values > 0)
    return cells[np.argsort(twin.centers[1][cells])]


def fix(twin, i: int, pos: int, ts: float, vehicle: str = "V1", **extra) -> dict:
    lat, lng = twin.centers
    return {"id": f"{vehicle}-{i}", "ts": repr(ts), "lat": repr(float(lat[pos])),
            "lng": repr(float(lng[pos])), "vehicle": vehicle, **extra}


def dead(bus) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in raw(bus).xrange(bus.keys.dead)]


def test_every_fix_counts_where_the_vehicle_is_and_a_detection_counts_as_itself(bus, twin):
    cells = road(twin)
    events = [fix(twin, 0, cells[0], NOW - 60), fix(twin, 1, cells[0], NOW - 50),
              fix(twin, 2, cells[1], NOW - 20, detection="road_damage", confidence="0.9")]
    assert Producer(bus, twin).publish("vehicle", events) == 3
    Worker(bus, twin, consumer="w").drain()
    count = snapshot.read(bus, "vehicle.count", "1h")
    assert count[cells[0]] == 2 and count[cells[1]] == 1 and count.sum() == 3
    damage = snapshot.read(bus, "vehicle.road_damage.count", "1h")
    assert damage[cells[1]] == 1 and damage.sum() == 1


def test_an_impossible_jump_is_refused_at_the_door_and_dead_lettered_with_its_speed(bus, twin):
    cells = road(twin)
    far = cells[-1]
    events = [fix(twin, 0, cells[0], NOW - 60), fix(twin, 1, far, NOW - 59)]  # km in a second
    producer = Producer(bus, twin)
    assert producer.publish("vehicle", events) == 1
    assert producer.jumps == 1
    letters = dead(bus)
    assert len(letters) == 1 and letters[0]["id"] == "V1-1"
    assert "impossible jump" in letters[0]["reason"]
    assert f"{MAX_SPEED_KMH:.0f} km/h" in letters[0]["reason"]
    assert raw(bus).xlen(bus.stream("vehicle")) == 1


def test_after_a_refused_jump_the_last_good_fix_stays_the_reference(bus, twin):
    cells = road(twin)
    producer = Producer(bus, twin)
    producer.publish("vehicle", [fix(twin, 0, cells[0], NOW - 60)])
    producer.publish("vehicle", [fix(twin, 1, cells[-1], NOW - 58)])      # a jump: refused
    producer.publish("vehicle", [fix(twin, 2, cells[1], NOW - 30)])       # a neighbour: fine
    assert raw(bus).xlen(bus.stream("vehicle")) == 2
    assert [f.lat for f in TrackGate(bus, twin).last_fixes()] == [
        pytest.approx(float(twin.centers[0][cells[1]]))]


def test_fixes_at_road_speed_pass_in_any_order_of_arrival(bus, twin):
    cells = road(twin)
    events = [fix(twin, i, cells[i], NOW - 300 + 60 * i) for i in range(4)][::-1]
    assert Producer(bus, twin).publish("vehicle", events) == 4
    assert dead(bus) == []


def test_a_fix_long_after_the_last_one_starts_a_new_segment(bus, twin):
    cells = road(twin)
    producer = Producer(bus, twin)
    producer.publish("vehicle", [fix(twin, 0, cells[0], NOW - 3600)])
    assert producer.publish("vehicle", [fix(twin, 1, cells[-1], NOW - 60)]) == 1


def test_gcj02_fixes_are_judged_in_wgs84(bus, twin):
    cells = road(twin)
    lat, lng = twin.centers
    g_lat, g_lng = crs_mod.from_wgs84(lat[cells[:1]], lng[cells[:1]], "gcj02")
    producer = Producer(bus, twin)
    producer.publish("vehicle", [fix(twin, 0, cells[0], NOW - 10)])
    shifted = {**fix(twin, 1, cells[0], NOW - 9), "lat": repr(float(g_lat[0])),
               "lng": repr(float(g_lng[0])), "crs": "gcj02"}
    assert producer.publish("vehicle", [shifted]) == 1  # the same place, ~500 m apart as numbers


def test_the_cells_of_accepted_fixes_are_covered_on_their_city_day(bus, twin):
    cells = road(twin)
    producer = Producer(bus, twin)
    producer.publish("vehicle", [fix(twin, 0, cells[0], NOW - 120), fix(twin, 1, cells[1], NOW - 60),
                                 fix(twin, 2, cells[-1], NOW - 59)])  # the last one jumps
    gate = TrackGate(bus, twin)
    today = int(city_days(np.array([NOW - 60]), twin.timezone)[0])
    assert set(gate.covered([today]).tolist()) == {int(twin.cell_ids[cells[0]]),
                                                   int(twin.cell_ids[cells[1]])}


def test_city_days_follow_the_city_time_zone():
    utc_evening = 1767256200.0  # 2026-01-01 08:30 UTC = 16:30 in Shanghai, 03:30 in New York
    assert city_days(np.array([utc_evening]), "Asia/Shanghai").tolist() == [20260101]
    assert city_days(np.array([utc_evening]), "America/New_York").tolist() == [20260101]
    assert city_days(np.array([utc_evening - 9 * 3600]), "America/New_York").tolist() == [20251231]


def test_bad_vehicle_fields_go_to_the_stream_and_are_dead_lettered_by_ingest(bus, twin):
    cells = road(twin)
    events = [fix(twin, 0, cells[0], NOW - 30, heading="400"),
              fix(twin, 1, cells[0], NOW - 30, detection="dragon"),
              fix(twin, 2, cells[0], NOW - 30, speed_kmh="9000")]
    assert Producer(bus, twin).publish("vehicle", events) == 3
    Worker(bus, twin, consumer="w").drain()
    reasons = {d["id"]: d["reason"] for d in dead(bus)}
    assert "heading" in reasons["V1-0"] and "detection" in reasons["V1-1"]
    assert "speed_kmh" in reasons["V1-2"]


def test_the_demo_vehicle_drives_its_route_without_a_jump_and_reports_each_problem_once(bus, twin):
    cells = road(twin)
    route = np.r_[cells, cells[::-1][1:-1]]  # there and back along the road strip
    feed = VehicleFeed(twin, route, speed_kmh=30.0, every_s=2.0, seed=3, problems=2)
    lap_s = feed.total_m / feed.speed_m_s
    t0 = NOW - lap_s - 30
    table = feed.generate(t0, t0 + lap_s)
    assert table.num_rows == pytest.approx(lap_s / 2.0, abs=1)
    producer = Producer(bus, twin)
    assert producer.publish("vehicle", table) == table.num_rows and producer.jumps == 0
    detections = [d for d in table.column("detection").to_pylist() if d]
    assert sorted(detections) == sorted(p.detection for p in feed.problems)
