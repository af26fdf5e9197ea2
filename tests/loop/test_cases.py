"""Cases: opened from alerts, routed by the twin's registries, lifecycle from the audit log."""

from __future__ import annotations

import pytest

from layers.loop.cases import CaseError
from layers.loop.records import SlaLimits
from tests.loop.conftest import alert


def test_an_alert_opens_a_dispatched_case_routed_to_its_departments(store, demo_twin):
    cid, created = store.ingest(alert(demo_twin, "thrown_object", grid=7, ts=store.clock()))
    case = store.get(cid)
    assert created and case.status == "dispatched"
    assert case.departments == ["police", "property"]
    grid = demo_twin.grids.set_index("grid").loc[7]
    assert case.place.grid_id == grid["id"] and case.owner == grid["manager"]
    assert case.place.unit_name == demo_twin.units.set_index("unit").loc[
        int(grid["unit"]), "name"]


def test_the_case_has_the_sla_of_its_category(store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=store.clock()))
    case = store.get(cid)
    assert case.sla == SlaLimits(accept_min=10.0, arrive_min=30.0, resolve_min=240.0)
    assert case.deadline_kind == "accept" and case.deadline == store.clock() + 600


def test_an_unrouted_category_goes_to_the_grid_management_centre(store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "noise_of_aliens", ts=store.clock()))
    assert store.get(cid).departments == ["grid_center"]


def test_a_nearby_alert_of_the_same_category_joins_the_open_case(store, demo_twin, clock):
    first, _ = store.ingest(alert(demo_twin, ts=clock(), events=["e1"]))
    clock.advance(600)
    second, created = store.ingest(alert(demo_twin, ts=clock(), severity=4, events=["e2"]))
    case = store.get(first)
    assert second == first and not created
    assert case.severity == 4 and case.events == ["e1", "e2"] and len(case.alerts) == 2


def test_an_alert_of_another_category_opens_its_own_case(store, demo_twin, clock):
    first, _ = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))
    second, created = store.ingest(alert(demo_twin, "crowd", ts=clock()))
    assert created and second != first


def test_an_alert_after_the_merge_window_opens_a_new_case(store, demo_twin, clock):
    first, _ = store.ingest(alert(demo_twin, ts=clock()))
    clock.advance(2 * 3600)
    second, created = store.ingest(alert(demo_twin, ts=clock()))
    assert created and second != first


def test_the_full_lifecycle_is_recorded_with_actor_time_and_note(store, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, ts=clock()))
    for action in ("accept", "arrive", "resolve", "close"):
        clock.advance(60)
        store.act(cid, action, actor="wang", note=f"{action} done")
    history = store.history(cid)
    assert [r["data"]["action"] for r in history] == [
        "open", "dispatch", "accept", "arrive", "resolve", "close"]
    assert history[-1]["actor"] == "wang" and history[-1]["data"]["note"] == "close done"
    assert store.get(cid).status == "closed"


def test_the_stored_state_is_the_fold_of_the_log(store, demo_twin, clock):
    cid, _ = store.ingest(alert(demo_twin, ts=clock()))
    store.act(cid, "accept", actor="li")
    store.act(cid, "note", actor="li", note="on my way")
    assert store.get(cid) == store.rebuild(cid)


def test_an_action_out_of_order_is_refused_with_what_is_allowed(store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    with pytest.raises(CaseError, match="cannot close.*allowed now: accept"):
        store.act(cid, "close", actor="li")


def test_a_resolved_case_can_be_reopened(store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    for action in ("accept", "resolve", "reopen"):
        store.act(cid, action, actor="li")
    case = store.get(cid)
    assert case.status == "reopened" and case.reopen_count == 1
    assert cid in {c.id for c in store.list(open_only=True)}


def test_open_cases_of_a_department_are_indexed(store, demo_twin):
    water, _ = store.ingest(alert(demo_twin, "waterlogging", ts=store.clock()))
    police, _ = store.ingest(alert(demo_twin, "crowd", ts=store.clock()))
    assert [c.id for c in store.list(department="water", open_only=True)] == [water]
    store.act(water, "accept", actor="x")
    store.act(water, "resolve", actor="x")
    assert store.list(department="water", open_only=True) == []
    assert [c.id for c in store.list(department="police")] == [police]


def test_cases_in_a_grid_are_indexed(store, demo_twin):
    here, _ = store.ingest(alert(demo_twin, "crowd", grid=3, ts=store.clock()))
    store.ingest(alert(demo_twin, "crowd", grid=400, ts=store.clock()))
    assert [c.id for c in store.list(grid=3)] == [here]


def test_dispatch_pushes_a_message_to_each_department_and_the_grid_manager(store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "thrown_object", grid=7, ts=store.clock()))
    sent = [(m["to"], m["template"]) for m in store.outbox.messages()]
    manager = store.get(cid).owner
    assert sent == [("police", "case_dispatch"), ("property", "case_dispatch"),
                    (manager, "case_dispatch")]


def test_an_unknown_case_is_a_clear_error(store):
    with pytest.raises(CaseError, match="no case 'C999999'"):
        store.act("C999999", "accept", actor="li")
