"""Scorecards (在线考核) over a period, and double-random inspections re-verifiable from the seed."""

from __future__ import annotations

import json

import pytest

from layers.loop import inspections
from layers.loop.scorecard import scorecard, to_records
from layers.testing import raw
from tests.loop.conftest import alert


def _case(store, twin, clock, grid, accept_after, resolve_after, reopen=False):
    t0 = clock()
    cid, _ = store.ingest(alert(twin, "waterlogging", grid=grid, ts=t0))
    store.act(cid, "accept", actor="w", ts=t0 + accept_after)
    store.act(cid, "resolve", actor="w", ts=t0 + resolve_after)
    if reopen:
        store.act(cid, "reopen", actor="citizen", ts=t0 + resolve_after + 60)
    return cid


def test_the_department_scorecard_counts_on_time_shares_median_and_reopens(store, demo_twin, clock):
    start = clock()
    _case(store, demo_twin, clock, 10, 5 * 60, 60 * 60)               # on time both
    _case(store, demo_twin, clock, 200, 20 * 60, 300 * 60, reopen=True)  # late both
    _case(store, demo_twin, clock, 400, 5 * 60, 120 * 60)             # on time both
    row = to_records(scorecard(store, start, start + 3600))[0]
    assert row == {"key": "water", "received": 3, "accepted_on_time": round(2 / 3, 3),
                   "resolved_on_time": round(2 / 3, 3), "median_resolve_min": 120.0,
                   "reopen_rate": round(1 / 3, 3)}


def test_the_timing_index_follows_the_case_through_accept_resolve_and_reopen(store, demo_twin,
                                                                           clock):
    from layers.loop.cases import timing_row

    cid = _case(store, demo_twin, clock, 10, 5 * 60, 60 * 60, reopen=True)
    assert store.timings([cid]) == [json.loads(json.dumps(timing_row(store.get(cid))))]


def test_a_case_written_before_the_timing_index_is_scored_from_its_view(store, demo_twin,
                                                                      clock):
    start = clock()
    for grid, late in ((10, 5), (200, 20), (400, 5)):
        _case(store, demo_twin, clock, grid, late * 60, 60 * 60)
    before = to_records(scorecard(store, start, start + 3600))
    store.bus.redis.hdel(store.bus.keys.cases("timing"), *store.ids())  # an older store
    assert to_records(scorecard(store, start, start + 3600)) == before


def test_the_scorecard_only_counts_cases_opened_in_the_period(store, demo_twin, clock):
    start = clock()
    _case(store, demo_twin, clock, 10, 60, 120)
    assert scorecard(store, start + 1, start + 3600).empty


def test_the_grid_scorecard_has_one_row_per_grid(store, demo_twin, clock):
    start = clock()
    _case(store, demo_twin, clock, 10, 60, 120)
    _case(store, demo_twin, clock, 200, 60, 120)
    assert sorted(scorecard(store, start, start + 10, by="grid").index) == ["G0011", "G0201"]


def test_a_draw_is_recorded_in_the_audit_log_with_its_seed(bus, demo_twin):
    result = inspections.draw(bus, demo_twin, "emergency", 5, 2, seed=42, actor="chief")
    from layers.loop.audit import AuditLog

    rec = AuditLog(bus).records(result["draw"], result["draw"])[0]
    assert rec["kind"] == "inspection.draw" and rec["data"]["seed"] == 42
    assert len(set(result["targets"])) == 5 and len(set(result["inspectors"])) == 2
    assert all(t.startswith("F-hazchem_site") for t in result["targets"])


def test_a_draw_without_a_seed_takes_it_from_the_system(bus, demo_twin):
    result = inspections.draw(bus, demo_twin, "fire", 2, 1)
    assert result["seed_source"] == "system"
    checked = inspections.verify(bus, demo_twin, result["draw"])
    assert checked["seed_source"] == "system" and "notice" not in checked


def test_a_draw_with_an_operator_chosen_seed_says_so(bus, demo_twin):
    result = inspections.draw(bus, demo_twin, "fire", 2, 1, seed=3, actor="chief",
                              context={"os_user": "wang"})
    assert result["seed_source"] == "operator" and result["os_user"] == "wang"
    checked = inspections.verify(bus, demo_twin, result["draw"])
    assert checked["ok"] and checked["seed_source"] == "operator"
    assert "chosen by the operator (chief, OS user wang)" in checked["notice"]


def test_the_same_seed_gives_the_same_draw(bus, demo_twin):
    a = inspections.draw(bus, demo_twin, "education", 10, 2, seed=7)
    b = inspections.draw(bus, demo_twin, "education", 10, 2, seed=7)
    assert (a["targets"], a["inspectors"]) == (b["targets"], b["inspectors"])


def test_a_recorded_draw_verifies(bus, demo_twin):
    result = inspections.draw(bus, demo_twin, "fire", 8, 3)
    assert inspections.verify(bus, demo_twin, result["draw"])["ok"]


def test_a_draw_whose_result_was_altered_does_not_verify(bus, demo_twin):
    from layers.loop.audit import AuditLog, record_hash

    result = inspections.draw(bus, demo_twin, "emergency", 3, 2, seed=1)
    log = AuditLog(bus)
    rec = log.records(result["draw"], result["draw"])[0]
    rec["data"]["targets"][0] = "F-hazchem_site-999"
    rec["hash"] = record_hash(rec)
    raw(bus).lset(log.log_key, result["draw"] - 1, json.dumps(rec))
    assert not inspections.verify(bus, demo_twin, result["draw"])["ok"]


def test_asking_for_more_targets_than_the_pool_is_a_clear_error(bus, demo_twin):
    with pytest.raises(inspections.DrawError, match="between 1 and 41"):
        inspections.draw(bus, demo_twin, "emergency", 500, 1)


def test_a_case_still_within_its_limits_is_not_judged_yet(store, demo_twin, clock):
    start = clock()
    store.ingest(alert(demo_twin, "waterlogging", grid=10, ts=start))
    row = to_records(scorecard(store, start, start + 3600, now=start + 60))[0]
    assert row["received"] == 1 and row["accepted_on_time"] is None
    late = to_records(scorecard(store, start, start + 3600, now=start + 3600))[0]
    assert late["accepted_on_time"] == 0.0
