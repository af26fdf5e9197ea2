"""The inspection vehicle's detections go through the rules into cases like any other channel, and
join the case a citizen's report of the same problem opened (de-duplication across channels)."""

from __future__ import annotations

import pytest

from layers.loop.rules import RuleError, load, parse
from tests.loop.conftest import cell_point

M_PER_DEG = 111_195.0


@pytest.fixture
def engine(bus, demo_twin, clock):
    from layers.loop.engine import Engine

    return Engine(bus, demo_twin, load(), clock=clock)


def detection(lat, lng, ts, what="road_damage", i=0, confidence=0.9, vehicle="BH-XJ-01"):
    return {"id": f"{vehicle}-{ts}-{i}", "ts": ts, "lat": lat, "lng": lng, "vehicle": vehicle,
            "heading": 90.0, "speed_kmh": 28.0, "detection": what, "confidence": confidence}


def report(lat, lng, ts, category="road_damage", i=0):
    return {"id": f"r-{ts}-{i}", "ts": ts, "lat": lat, "lng": lng, "source": "hotline",
            "category": category, "severity": 2, "text": "路面塌陷需维修"}


def north(lat: float, metres: float) -> float:
    return lat + metres / M_PER_DEG


def test_a_detection_opens_a_case_of_its_category_routed_like_any_report(bus, demo_twin, engine,
                                                                         clock):
    lat, lng = cell_point(demo_twin, 40)
    bus.publish("vehicle", [detection(lat, lng, clock() - 20, "broken_facility")])
    [case_id] = engine.tick()["cases"]
    case = engine.store.get(case_id)
    assert case.category == "facility_damage" and case.source == "vehicle"
    assert case.departments == engine.store.router.departments("facility_damage") == ["urban"]


def test_the_vehicle_seeing_a_reported_pothole_hours_later_joins_the_citizens_case(
        bus, demo_twin, engine, clock):
    lat, lng = cell_point(demo_twin, 40)
    bus.publish("incident", [report(lat, lng, clock() - 30)])
    [citizen_case] = engine.tick()["cases"]
    clock.advance(5 * 3600)
    bus.publish("vehicle", [detection(north(lat, 80), lng, clock() - 10)])
    assert engine.tick()["cases"] == [citizen_case]
    case = engine.store.get(citizen_case)
    assert len(case.alerts) == 2 and case.reports == 1 and case.status != "closed"


def test_a_pothole_two_streets_away_is_another_case(bus, demo_twin, engine, clock):
    lat, lng = cell_point(demo_twin, 40)
    bus.publish("incident", [report(lat, lng, clock() - 30)])
    [citizen_case] = engine.tick()["cases"]
    bus.publish("vehicle", [detection(north(lat, 400), lng, clock() - 10)])
    [other] = engine.tick()["cases"]
    assert other != citizen_case


def test_fixes_without_a_detection_and_unsure_detections_raise_nothing(bus, demo_twin, engine,
                                                                        clock):
    lat, lng = cell_point(demo_twin, 40)
    plain = {k: v for k, v in detection(lat, lng, clock() - 20, i=1).items()
             if k not in ("detection", "confidence")}
    bus.publish("vehicle", [plain, detection(lat, lng, clock() - 10, confidence=0.3, i=2)])
    summary = engine.tick()
    assert summary["cases"] == [] and summary["entries"]["vehicle"] == 2


def test_a_vehicle_rule_names_an_unknown_detection():
    with pytest.raises(RuleError, match=r"rule 'v': field event: unknown detections \['ufo'\]"):
        parse({"rules": [{"id": "v", "category": "from_event",
                          "event": {"kind": "vehicle", "detections": ["ufo"]}}]})
