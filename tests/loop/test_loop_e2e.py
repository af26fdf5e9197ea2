"""End to end on a real Redis: the feed's anomalies -> ingest -> rules -> alerts -> routed cases.

One scenario runs once for the module (a controlled clock, minute by minute for 20 minutes: the
flood, gas, crowd, fever and parking anomalies of `layers.live.feed`, background sensor readings, a
thrown object seen by a camera and three hotline complaints about noise in one street); each test
then checks one outcome.
"""

from __future__ import annotations

import itertools

import pytest

T0 = 1_767_225_600.0
ANOMALIES = ("flood", "gas", "crowd", "fever", "parking")


@pytest.fixture(scope="module")
def loop(redis_server, demo_twin, tmp_path_factory):
    from layers.clock import ManualClock
    from layers.live.feed import Feed
    from layers.live.worker import Worker
    from layers.loop.engine import Engine
    from layers.loop.rules import load
    from tests.loop.conftest import cell_point
    bus = redis_server.with_prefix("e2e:", home=tmp_path_factory.mktemp("e2e"))
    clock = ManualClock(T0)
    worker = Worker(bus, demo_twin, consumer="w-e2e", clock=clock, history=False)
    worker.start()
    engine = Engine(bus, demo_twin, load(), clock=clock)
    feed = Feed(demo_twin, seed=3, anomaly_every_s=0)
    specs = {kind: feed.start_anomaly(kind, T0 + 60) for kind in ANOMALIES}
    cams = demo_twin.cameras
    road = cams[cams["kind"] == "road"].geometry.iloc[0]
    lat, lng = cell_point(demo_twin, grid=50)
    ids = itertools.count()
    extra = {  # minute -> events published by hand
        3: ("video", [{"id": "thrown-1", "ts": T0 + 190, "lat": road.y, "lng": road.x,
                       "camera": cams["id"].iloc[0], "label": "thrown_object", "count": 1,
                       "confidence": 0.93}]),
        5: ("incident", [{"id": f"hotline-{next(ids)}", "ts": T0 + 300 + 60 * k,
                          "lat": lat + 0.001 * k, "lng": lng, "source": "hotline",
                          "category": "noise", "severity": 1, "text": "夜间施工噪音扰民"}
                         for k in range(3)]),
    }
    summaries = []
    for minute in range(21):
        t0, t1 = T0 + 60 * minute, T0 + 60 * (minute + 1)
        tables = feed.anomaly_events(t0, t1)
        iot = feed.iot(t0, t1, 5.0)
        for kind, table in tables.items():
            bus.publish(kind, table, batch=500)
        bus.publish("iot", iot, batch=500)
        if minute in extra:
            bus.publish(*extra[minute])
        clock.set(t1)
        worker.drain()
        summaries.append(engine.tick())
    return {"bus": bus, "engine": engine, "specs": specs, "summaries": summaries,
            "alerts": engine.alerts.list(limit=1000), "twin": demo_twin, "clock": clock}


def _by_rule(loop, rule):
    return [a for a in loop["alerts"] if a.rule == rule]


def _case(loop, alert):
    return loop["engine"].store.get(alert.case)


def _routed(loop, alert):
    """The departments the case was routed to when it opened (escalation may add command)."""
    return loop["engine"].store.history(alert.case)[0]["data"]["departments"]


@pytest.mark.slow
def test_the_flood_becomes_one_waterlogging_case_for_water_affairs_and_the_grid(loop):
    alerts = _by_rule(loop, "waterlogging")
    assert len(alerts) == 1
    case = _case(loop, alerts[0])
    assert _routed(loop, alerts[0]) == ["water"]
    assert case.owner == case.place.manager and case.owner in set(loop["twin"].grids["manager"])
    assert alerts[0].evidence[0]["value"] > 2.3


@pytest.mark.slow
def test_the_waterlogging_alert_waits_until_the_level_has_been_high_for_ten_minutes(loop):
    alert = _by_rule(loop, "waterlogging")[0]
    assert alert.ts - alert.evidence[0]["since"] >= 600


@pytest.mark.slow
def test_the_gas_reading_near_a_hazchem_site_goes_to_emergency_and_fire(loop):
    alerts = _by_rule(loop, "gas_near_hazchem")
    assert len(alerts) == 1
    assert _routed(loop, alerts[0]) == ["emergency", "fire"]


@pytest.mark.slow
def test_the_crowd_goes_to_public_security_once(loop):
    alerts = _by_rule(loop, "crowd")
    assert len(alerts) == 1 and _routed(loop, alerts[0]) == ["police"]


@pytest.mark.slow
def test_fever_at_a_community_entrance_goes_to_health(loop):
    alerts = _by_rule(loop, "fever_at_entrance")
    assert len(alerts) == 1 and _routed(loop, alerts[0]) == ["health"]


@pytest.mark.slow
def test_a_thrown_object_goes_to_public_security_and_property_management(loop):
    alerts = _by_rule(loop, "thrown_object")
    assert len(alerts) == 1
    assert _routed(loop, alerts[0]) == ["police", "property"]
    assert alerts[0].events == ["thrown-1"]


@pytest.mark.slow
def test_three_hotline_complaints_nearby_become_one_case(loop):
    reports = _by_rule(loop, "citizen_report")
    cluster = _by_rule(loop, "hotline_cluster")
    assert len(reports) == 3 and len(cluster) == 1
    assert len({a.case for a in reports + cluster}) == 1
    case = _case(loop, cluster[0])
    assert case.reports == 3 and case.severity == 3 and _routed(loop, cluster[0]) == ["ecology"]


@pytest.mark.slow
def test_the_parked_car_gets_one_reminder_and_leaves_in_time(loop):
    from layers.loop.parking import kpi

    plate = loop["specs"]["parking"]["plate"]
    sms = [m for m in loop["engine"].outbox.messages() if m["template"] == "parking_reminder"]
    assert [m["to"] for m in sms] == [plate] and sms[0]["channel"] == "sms"
    assert kpi(loop["bus"]) == {"reminders": 1, "left_within_10min": 1, "cases": 0,
                                "pending": 0, "share_left_within_10min": 1.0}


@pytest.mark.slow
def test_no_other_alerts_are_raised(loop):
    rules = sorted({a.rule for a in loop["alerts"]})
    assert rules == ["citizen_report", "crowd", "fever_at_entrance", "gas_near_hazchem",
                     "hotline_cluster", "thrown_object", "waterlogging"]
    assert len(loop["alerts"]) == 9


@pytest.mark.slow
def test_the_audit_log_of_the_whole_run_verifies(loop):
    from layers.loop.audit import AuditLog

    assert AuditLog(loop["bus"]).verify().ok
