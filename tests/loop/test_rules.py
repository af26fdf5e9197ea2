"""Rules as YAML data: validation errors name the rule and the field; the engine's behaviours."""

from __future__ import annotations

import numpy as np
import pytest

from layers.loop.rules import RuleError, load, parse
from layers.loop.rulestate import RuleStateStore
from layers.testing import raw

T0 = 1_767_225_600.0


def _rule(**kw):
    base = {"id": "r1", "category": "waterlogging",
            "layer": {"name": "iot.water_level_m.max", "window": "5m", "above": 2.0}}
    base.update(kw)
    return {"rules": [base]}


def test_the_default_rule_set_loads():
    rules = load()
    assert {r.id for r in rules.rules} >= {"waterlogging", "gas_near_hazchem", "crowd",
                                           "fever_at_entrance", "thrown_object", "hotline_cluster"}
    assert rules.parking.remind_after == 600


@pytest.mark.parametrize("change, field", [
    ({"severity": 9}, "severity"),
    ({"sustained": "ten minutes"}, "sustained"),
    ({"layer": {"name": "iot.nothing.max", "above": 1}}, "layer"),
    ({"colour": "red"}, "colour"),
    ({"event": {"kind": "video"}}, "exactly one of `layer` or `event`"),
])
def test_an_invalid_rule_is_reported_with_its_id_and_field(change, field):
    with pytest.raises(RuleError, match=rf"rule 'r1'.*{field}"):
        parse(_rule(**change))


def test_a_rule_without_id_is_named_by_its_position():
    with pytest.raises(RuleError, match=r"rule #1: field id"):
        parse({"rules": [{"category": "x", "event": {"kind": "video"}}]})


def test_duplicate_rule_ids_are_refused():
    raw = _rule()
    raw["rules"].append(dict(raw["rules"][0]))
    with pytest.raises(RuleError, match="duplicate"):
        parse(raw)


def test_an_unreadable_file_is_a_rule_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("rules: [\n")
    with pytest.raises(RuleError, match="not valid YAML"):
        load(tmp_path / "bad.yaml")


@pytest.mark.parametrize("change, field", [
    ({"layer": {"name": "iot.water_level_m.max", "above": float("nan")}}, "layer.above"),
    ({"layer": {"name": "iot.water_level_m.max", "below": float("-inf")}}, "layer.below"),
    ({"sustained": float("inf")}, "sustained"),
    ({"layer": None, "event": {"kind": "iot", "field": "value", "above": float("nan")}},
     "event.above"),
])
def test_a_number_that_is_not_finite_is_refused(change, field):
    with pytest.raises(RuleError, match=rf"rule 'r1': field {field}: .*finite"):
        parse(_rule(**change))


def test_a_where_cell_that_is_no_h3_cell_is_refused_naming_it():
    with pytest.raises(RuleError, match=r"rule 'r1': field where.cells: 'zzzz' is not an H3 cell"):
        parse(_rule(where={"cells": ["8931aa0a2a3ffff", "zzzz"]}))


def test_a_rule_file_that_is_not_utf8_is_a_rule_error(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("rules: []  # 规则\n".encode("gbk"))
    with pytest.raises(RuleError, match=r"gbk.yaml: not UTF-8 text .*save the file as UTF-8"):
        load(path)


def test_durations_accept_units():
    assert parse(_rule(sustained="1.5h")).rules[0].sustained == 5400


# -- layer rules -----------------------------------------------------------------------------------
def _watch(bus, twin, **kw):
    from layers.loop.engine import where_mask
    from layers.loop.whistle import LayerWatch

    rule = parse(_rule(**kw)).rules[0]
    return LayerWatch(RuleStateStore(bus), twin, rule, where_mask(twin, rule.where))


def test_a_sustained_condition_alerts_only_after_its_duration(bus, demo_twin):
    watch = _watch(bus, demo_twin, sustained="10m")
    values = np.zeros(len(demo_twin), np.float32)
    values[[100, 5000]] = 3.0
    assert watch.evaluate(values, T0) == [] and watch.evaluate(values, T0 + 540) == []
    assert len(watch.evaluate(values, T0 + 600)) == 2


def test_a_persisting_condition_alerts_once_per_episode(bus, demo_twin):
    watch = _watch(bus, demo_twin)
    values = np.zeros(len(demo_twin), np.float32)
    values[100] = 3.0
    assert len(watch.evaluate(values, T0)) == 1
    assert all(watch.evaluate(values, T0 + 60 * k) == [] for k in range(1, 5))
    values[100] = 0.0
    watch.evaluate(values, T0 + 300)
    values[100] = 3.0
    assert len(watch.evaluate(values, T0 + 360)) == 1  # a new episode


def test_adjacent_cells_make_one_alert_with_all_their_cells(bus, demo_twin):
    watch = _watch(bus, demo_twin)
    values = np.zeros(len(demo_twin), np.float32)
    a = 100
    b = int(demo_twin.neighbors[a][demo_twin.neighbors[a] >= 0][0])
    values[[a, b]] = [3.0, 4.0]
    alerts = watch.evaluate(values, T0)
    assert len(alerts) == 1 and len(alerts[0].cells) == 2
    assert alerts[0].evidence[0]["value"] == 4.0


def test_the_where_filter_limits_a_rule_to_cells_near_facilities(bus, demo_twin):
    watch = _watch(bus, demo_twin, where={"near": {"kinds": ["hazchem_site"], "within_m": 300}})
    assert 0 < watch.mask.sum() < len(demo_twin) // 20
    values = np.where(watch.mask, 0.0, 3.0).astype(np.float32)
    assert watch.evaluate(values, T0) == []


def _commit(watch, bus) -> None:
    """What the engine does at the end of a tick: the held rule-state writes, committed."""
    pipe = raw(bus).pipeline(transaction=True)
    watch.state.flush(pipe)
    pipe.execute()


def test_rule_state_survives_a_restart(bus, demo_twin):
    values = np.zeros(len(demo_twin), np.float32)
    values[100] = 3.0
    first = _watch(bus, demo_twin)
    assert len(first.evaluate(values, T0)) == 1
    _commit(first, bus)
    assert _watch(bus, demo_twin).evaluate(values, T0 + 60) == []


def test_rule_state_is_not_saved_before_the_ticks_commit(bus, demo_twin):
    values = np.zeros(len(demo_twin), np.float32)
    values[100] = 3.0
    assert len(_watch(bus, demo_twin).evaluate(values, T0)) == 1  # killed before the commit
    assert len(_watch(bus, demo_twin).evaluate(values, T0 + 60)) == 1  # the same alert again


# -- event rules through the engine ------------------------------------------------------------------
@pytest.fixture
def engine(bus, demo_twin, clock):
    from layers.loop.engine import Engine

    return Engine(bus, demo_twin, load(), clock=clock)


def _report(lat, lng, ts, category="waterlogging", source="hotline", i=0):
    return {"id": f"r-{ts}-{i}", "ts": ts, "lat": lat, "lng": lng, "source": source,
            "category": category, "severity": 2, "text": "路口积水严重"}


def test_a_hotline_report_joins_the_open_sensor_case_of_the_same_event(bus, demo_twin, engine,
                                                                        clock):
    from tests.loop.conftest import alert, cell_point
    sensor_case, _ = engine.store.ingest(alert(demo_twin, "waterlogging", grid=9, ts=clock(),
                                               rule="waterlogging"))
    lat, lng = cell_point(demo_twin, 9)
    bus.publish("incident", [_report(lat + 0.001, lng, clock() - 30)])
    summary = engine.tick()
    assert summary["cases"] == [sensor_case]
    assert engine.store.get(sensor_case).reports == 1


def test_two_reports_far_apart_open_two_cases(bus, demo_twin, engine, clock):
    from tests.loop.conftest import cell_point
    (a_lat, a_lng), (b_lat, b_lng) = cell_point(demo_twin, 9), cell_point(demo_twin, 500)
    bus.publish("incident", [_report(a_lat, a_lng, clock() - 30, i=1),
                             _report(b_lat, b_lng, clock() - 20, i=2)])
    assert len(set(engine.tick()["cases"])) == 2


def test_a_redelivered_event_is_not_counted_twice(bus, demo_twin, engine, clock):
    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, 9)
    event = _report(lat, lng, clock() - 30)
    bus.publish("incident", [event])
    bus.publish("incident", [event])
    engine.tick()
    cases = engine.store.list()
    assert len(cases) == 1 and cases[0].reports == 1


def test_garbage_entries_never_stop_the_engine(bus, demo_twin, engine, clock):
    from layers.live.bus import arrow_bytes

    raw(bus).xadd(bus.stream("incident"), {"lat": "north", "id": "x"})
    raw(bus).xadd(bus.stream("video"), {"arrow": b"not arrow at all"})
    raw(bus).xadd(bus.stream("video"), {"arrow": arrow_bytes(__import__("pyarrow").table(
        {"label": ["fever"], "lat": [1000.0]}))})
    summary = engine.tick()
    assert summary["alerts"] == [] and summary["entries"] == {"video": 2, "incident": 1, "vehicle": 0}
    assert raw(bus).xpending(bus.stream("video"), "rules")["pending"] == 0


def test_the_engine_leaves_the_ingest_group_alone(bus, demo_twin, engine, clock):
    from layers.live.bus import ensure_groups
    from layers.live.worker import GROUP

    ensure_groups(bus)
    bus.publish("incident", [_report(39.0, 117.7, clock() - 30)])
    engine.tick()
    groups = {g["name"].decode(): g for g in raw(bus).xinfo_groups(bus.stream("incident"))}
    assert groups[GROUP]["last-delivered-id"] == b"0-0"


def test_where_filters_by_unit_and_grid(demo_twin):
    from layers.loop.engine import where_mask
    from layers.loop.rules import Where

    unit = str(demo_twin.units["name"].iloc[0])
    grid = str(demo_twin.grids["id"].iloc[3])
    by_unit = where_mask(demo_twin, Where(units=[unit]))
    by_grid = where_mask(demo_twin, Where(grids=[grid]))
    assert by_unit.sum() == (demo_twin.ds["unit"].values == 0).sum()
    assert by_grid.sum() == (demo_twin.ds["grid"].values == 3).sum()
    assert where_mask(demo_twin, Where(units=[unit], grids=[grid])).sum() <= by_grid.sum()


def test_where_naming_an_unknown_grid_is_a_clear_error(demo_twin):
    from layers.loop.engine import where_mask
    from layers.loop.rules import Where

    with pytest.raises(ValueError, match="where.grids: no grid 'G9999'"):
        where_mask(demo_twin, Where(grids=["G9999"]))


def test_events_of_a_tick_that_crashed_are_handled_by_the_next_engine(bus, demo_twin, clock):
    from layers.loop.engine import Engine
    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, 9)
    bus.publish("incident", [_report(lat, lng, clock() - 30)])
    crashing = Engine(bus, demo_twin, load(), clock=clock, consumer="rules-x")

    def down(*_args, **_kw):
        raise ConnectionError("Redis went away")

    crashing.intake.commit = down
    with pytest.raises(ConnectionError):
        crashing.tick()
    again = Engine(bus, demo_twin, load(), clock=clock, consumer="rules-x")
    assert len(again.tick()["cases"]) == 1


def test_one_alert_that_cannot_become_a_case_does_not_stop_the_others(bus, demo_twin, clock):
    from layers.loop.engine import Engine
    from tests.loop.conftest import cell_point
    for grid in (9, 40):
        lat, lng = cell_point(demo_twin, grid)
        bus.publish("incident", [_report(lat, lng, clock() - 30, i=grid)])
    engine = Engine(bus, demo_twin, load(), clock=clock)
    real_open = engine.intake._open

    def broken(case_id, alert, place):
        if any(e.endswith("-40") for e in alert.events):
            raise ValueError("a broken alert")
        return real_open(case_id, alert, place)

    engine.intake._open = broken
    summary = engine.tick()
    assert len(summary["cases"]) == 1 and summary["failed"] == 1
    assert raw(bus).xpending(bus.stream("incident"), "rules")["pending"] == 0


def test_a_replayed_tick_raises_no_second_alert_and_no_merge(bus, demo_twin, clock):
    from layers.loop.engine import Engine
    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, 9)
    bus.publish("incident", [_report(lat, lng, clock() - 30)])
    engine = Engine(bus, demo_twin, load(), clock=clock, consumer="rules-y")
    frames = engine.frames(engine._read(), clock())
    alerts = engine.evaluate(frames, clock())
    from layers.loop.engine import alert_id

    for alert in alerts:
        alert.id = alert_id(alert)
    engine.intake.commit(alerts)  # the cases land, then the process dies before its ack
    again = Engine(bus, demo_twin, load(), clock=clock, consumer="rules-y")
    summary = again.tick()
    assert summary["cases"] == [] and engine.alerts.count() == 1
    case = engine.store.get(engine.alerts.list()[0].case)
    assert [r["data"]["action"] for r in engine.store.history(case.id)] == ["open", "dispatch"]


@pytest.mark.parametrize("ts", ["1e308", "far future"])
def test_the_engine_sees_only_what_ingest_counts(bus, demo_twin, clock, ts):
    from layers.loop.engine import Engine
    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, 9)
    event = _report(lat, lng, clock() - 30)
    event["ts"] = "1e308" if ts == "1e308" else repr(clock() + 50 * 365 * 86400)
    bus.publish("incident", [event])
    summary = Engine(bus, demo_twin, load(), clock=clock).tick()
    assert summary["entries"] == {"video": 0, "incident": 1, "vehicle": 0} and summary["cases"] == []
