"""SLA escalation with a controlled clock: grid -> street/town -> district command."""

from __future__ import annotations

from tests.loop.conftest import alert


def test_a_case_within_its_sla_is_not_overdue(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    clock.advance(9 * 60)
    assert store.overdue() == [] and escalator.tick() == []


def test_an_unaccepted_case_is_overdue_after_its_accept_time(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    clock.advance(10 * 60 + 1)
    assert store.overdue() == [cid]


def test_an_overdue_case_escalates_to_the_street_then_to_district_command(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    clock.advance(11 * 60)
    assert escalator.tick() == [cid]
    case = store.get(cid)
    assert case.status == "escalated" and case.level == 1
    assert case.owner == case.place.unit_name
    clock.advance(5 * 60)
    assert escalator.tick() == []  # a fresh accept window at the new level
    clock.advance(6 * 60)
    assert escalator.tick() == [cid]
    case = store.get(cid)
    assert case.level == 2 and case.owner == "command" and "command" in case.departments


def test_district_command_is_the_top_level(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    for _ in range(4):
        clock.advance(3600)
        escalator.tick()
    assert store.get(cid).level == 2
    assert store.overdue() == [cid]  # still overdue, visible to the command centre


def test_escalation_is_recorded_and_notified(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    clock.advance(11 * 60)
    escalator.tick()
    last = store.history(cid)[-1]
    assert last["actor"] == "system:sla" and last["data"]["milestone"] == "accept"
    assert any(m["template"] == "case_escalated" for m in store.outbox.messages())


def test_accepting_in_time_moves_the_deadline_to_arrival(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    start = clock()
    clock.advance(5 * 60)
    store.act(cid, "accept", actor="li")
    case = store.get(cid)
    assert case.deadline_kind == "arrive" and case.deadline == start + 30 * 60


def test_a_resolved_case_never_escalates(store, escalator, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    store.act(cid, "accept", actor="li")
    store.act(cid, "resolve", actor="li")
    clock.advance(10 * 3600)
    assert escalator.tick() == [] and store.overdue() == []
