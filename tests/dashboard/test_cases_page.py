"""What the Cases and Grid pages show and do (dashboard.case_view), against a real Redis."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden

from dashboard import case_view as cv
from dashboard import scorecards
from dashboard.policy import User
from layers.loop.scorecard import scorecard
from tests.loop.conftest import alert

GRID_A = User("grid_a", "A", "grid_manager", frozenset({5, 6}))
COMMANDER = User("boss", "B", "commander")


@pytest.fixture
def cases(store, demo_twin, clock):
    """Four cases: waterlogging in grids 5 and 8, a fire in grid 6 opened an hour ago (overdue
    to accept), and a crowd in grid 5."""
    now = clock()
    ids = {"water5": store.ingest(alert(demo_twin, "waterlogging", grid=5, ts=now))[0],
           "water8": store.ingest(alert(demo_twin, "waterlogging", grid=8, ts=now))[0],
           "fire6": store.ingest(alert(demo_twin, "fire", grid=6, ts=now - 3600))[0],
           "crowd5": store.ingest(alert(demo_twin, "crowd", grid=5, ts=now))[0]}
    return ids


def test_a_grid_manager_lists_only_the_cases_of_their_grids(store, cases):
    seen = {c.id for c in cv.visible_cases(store, GRID_A)}
    assert seen == {cases["water5"], cases["fire6"], cases["crowd5"]}
    assert {c.id for c in cv.visible_cases(store, COMMANDER)} == set(cases.values())


def test_the_queue_filters_by_status_department_grid_and_category(store, cases):
    store.act(cases["crowd5"], "accept", actor="x")
    ids = lambda **kw: {c.id for c in cv.visible_cases(store, COMMANDER, **kw)}  # noqa: E731
    assert ids(status="accepted") == {cases["crowd5"]}
    assert ids(department="water") == {cases["water5"], cases["water8"]}
    assert ids(grid=8) == {cases["water8"]}
    assert ids(category="fire") == {cases["fire6"]}
    assert {c.id for c in cv.visible_cases(store, GRID_A, grid=8)} == set()


def test_countdown_shows_time_left_and_flags_overdue(store, cases, clock):
    water = store.get(cases["water5"])  # waterlogging: accept within 10 min
    left = cv.countdown(water, clock() + 120, "en")
    assert left == {"seconds": 480.0, "text": "8 min left", "overdue": False,
                    "milestone": "accept"}
    late = cv.countdown(water, clock() + 4500, "zh")
    assert late["overdue"] and late["text"] == "超时 1 小时 05 分钟"


def test_the_queue_puts_overdue_cases_first_then_the_soonest_deadline(store, cases, clock,
                                                                     demo_twin):
    names = cv.department_names(demo_twin, "en")
    rows = cv.queue_rows(cv.visible_cases(store, COMMANDER), clock(), "en", names)
    assert rows[0]["id"] == cases["fire6"] and rows[0]["overdue"]
    assert not any(r["overdue"] for r in rows[1:])
    waits = [r["seconds"] for r in rows[1:]]
    assert waits == sorted(waits)
    water = next(r for r in rows if r["id"] == cases["water5"])
    assert water["status_text"] == "Dispatched" and water["grid_id"] == "G0006"
    assert water["departments"] == names["water"]


def test_the_audit_trail_lists_actor_time_action_and_note(store, cases, clock):
    clock.advance(60)
    cv.act(store, GRID_A, cases["water5"], "accept", "on my way")
    rows = cv.trail_rows(store.history(cases["water5"]), "en")
    assert [r["action"] for r in rows] == ["Opened", "Dispatch", "Accept"]
    assert rows[-1]["actor"] == "grid_a" and rows[-1]["note"] == "on my way"
    assert rows[-1]["time"] == cv.clock_text(clock())


def test_a_grid_manager_accepts_their_own_case(store, cases):
    state = cv.act(store, GRID_A, cases["water5"], "accept")
    assert state.status == "accepted"
    assert cv.actions_for(GRID_A, state) == ["arrive", "resolve"]


def test_another_grids_case_is_refused_to_read_and_to_act(store, cases):
    with pytest.raises(Forbidden):
        cv.visible_case(store, GRID_A, cases["water8"])
    with pytest.raises(Forbidden):
        cv.act(store, GRID_A, cases["water8"], "accept")
    with pytest.raises(Forbidden):
        cv.open_cases_of_grid(store, GRID_A, 8)
    with pytest.raises(Forbidden):  # an unknown id answers the same: existence is not told
        cv.visible_case(store, GRID_A, "C999999")
    assert store.get(cases["water8"]).status == "dispatched"


def test_a_commander_reads_every_case_but_cannot_act(store, cases):
    assert cv.visible_case(store, COMMANDER, cases["water8"]).id == cases["water8"]
    assert cv.actions_for(COMMANDER, store.get(cases["water8"])) == []
    with pytest.raises(Forbidden):
        cv.act(store, COMMANDER, cases["water8"], "accept")


def test_resolving_needs_a_note(store, cases):
    cv.act(store, GRID_A, cases["water5"], "accept")
    with pytest.raises(cv.NoteRequired, match="needs a note"):
        cv.act(store, GRID_A, cases["water5"], "resolve", "  ")
    assert cv.act(store, GRID_A, cases["water5"], "resolve", "pumped out").status == "resolved"


def test_open_cases_of_a_grid_leave_out_resolved_ones(store, cases):
    cv.act(store, GRID_A, cases["crowd5"], "accept")
    cv.act(store, GRID_A, cases["crowd5"], "resolve", "dispersed")
    assert [c.id for c in cv.open_cases_of_grid(store, GRID_A, 5)] == [cases["water5"]]


def test_scorecard_chart_shows_on_time_shares_per_department(store, cases, clock, demo_twin):
    clock.advance(120)
    cv.act(store, GRID_A, cases["water5"], "accept")
    table = scorecard(store, clock() - 86400, clock() + 1, by="department", now=clock())
    rows = scorecards.scorecard_rows(table)
    water = next(r for r in rows if r["key"] == "water")
    assert water["received"] == 2 and water["accepted_on_time"] == 1.0
    names = cv.department_names(demo_twin, "en")
    fig = scorecards.scorecard_figure(rows, "en", names)
    accepted = fig.data[0]
    assert accepted.name == "Accepted on time"
    assert accepted.y[list(accepted.x).index(f"{names['water']} (2)")] == 100.0


def test_the_grid_scorecard_keeps_only_the_grids_asked_for(store, cases, clock):
    table = scorecard(store, clock() - 86400, clock() + 1, by="grid", now=clock())
    assert {r["key"] for r in scorecards.scorecard_rows(table, {"G0006"})} == {"G0006"}


def test_an_empty_scorecard_says_why_across_the_chart():
    fig = scorecards.scorecard_figure([], "en", empty="score_commanders_only")
    assert fig.layout.annotations[0].text == "Department scores are for commanders and admins"


def test_small_helpers_of_the_pages():
    assert cv.duration_text(59) == "0 min" and cv.duration_text(3 * 86400 + 7200) == "3 d 2 h"
    assert cv.duration_text(-3900, "zh") == "1 小时 05 分钟"
    assert cv.restrict_options([{"value": 1}, {"value": 2}], {2}) == [{"value": 2}]
    assert cv.restrict_options([{"value": 1}], None) == [{"value": 1}]
    states = [{"id": {"type": "grid-note", "case": "C1"}, "value": "x"},
              {"id": {"type": "grid-note", "case": "C2"}, "value": "y"}]
    assert cv.note_for(states, "C2") == "y" and cv.note_for(states, "C9") == ""
    assert cv.clicked_action({"case": "C1", "action": "accept"}, 1) == ("C1", "accept")
    assert cv.clicked_action({"case": "C1", "action": "accept"}, 0) is None


def test_an_escalation_note_is_written_in_the_ui_language(store, cases, clock):
    from layers.loop.escalation import Escalator

    clock.advance(3600)
    Escalator(store).tick()
    rows = cv.trail_rows(store.history(cases["water5"]), "zh")
    escalated = next(r for r in rows if r["action"] == "升级")
    assert escalated["note"].startswith("接单超时") and "街镇" in escalated["note"]
    assert escalated["actor"] == "时限监督" and not escalated["verbatim"]
    en = next(r for r in cv.trail_rows(store.history(cases["water5"]), "en")
              if r["action"] == "Escalate")
    assert en["note"].startswith("accept overdue by") and "street/town" in en["note"]


def test_a_persons_note_is_shown_as_typed(store, cases):
    cv.act(store, GRID_A, cases["water5"], "accept", "on my way")
    row = cv.trail_rows(store.history(cases["water5"]), "zh")[-1]
    assert row["note"] == "on my way" and row["verbatim"]


def test_a_rule_title_written_in_chinese_gives_way_to_the_category_in_english():
    from layers.loop.records import Case, Place, SlaLimits

    case = Case(id="C9", status="new", category="noise", severity=2, place=Place(cell=None),
                departments=[], owner="", sla=SlaLimits(10, 30, 120), title="群众诉求/网格上报",
                source="incident", created=0.0, updated=0.0)
    assert cv.title_text(case, "zh") == "群众诉求/网格上报"
    assert cv.title_text(case, "en") == cv.category_label("noise", "en")
    assert cv.title_text(Case(**{**case.__dict__, "title": "Pump failure"}), "en") == \
        "Pump failure"
