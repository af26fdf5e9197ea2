"""What the Enforcement page shows, pure: role rules, the stage's last day, figures, the flag."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard import enforce_view as ev
from dashboard.policy import User
from layers.loop import procedure as proc

SUPERVISOR = User("sup", "Sup", "supervisor")
COMMANDER = User("cmd", "Cmd", "commander")
PLANNER = User("pl", "Pl", "planner")
GRID = User("g", "G", "grid_manager", frozenset({5}))
TZ = "Asia/Shanghai"


def _case(deadline: float | None = None, **kw) -> proc.EnforcementCase:
    base = dict(id="E000001", department="market", target="F1", target_name="F1", basis="draw",
                basis_ref="1", party="person", stage="filing", created=0.0, updated=0.0,
                deadline=deadline)
    return proc.EnforcementCase(**{**base, **kw})


def test_planners_and_grid_managers_see_no_enforcement_case():
    cases = [_case()]
    assert ev.visible(cases, PLANNER) == [] and ev.visible(cases, GRID) == []
    assert ev.visible(cases, COMMANDER) == cases and ev.visible(cases, SUPERVISOR) == cases


def test_a_row_shows_the_last_day_of_the_stage_in_city_time_and_the_stage_by_name():
    end = dt.datetime(2026, 12, 17, tzinfo=proc.settings.timezone(TZ)).timestamp()
    row = ev.case_rows([_case(end)], proc.default(), end + 1, "zh", TZ, {"market": "市场监管"})[0]
    assert (row["deadline"], row["stage"], row["department"]) == ("2026-12-16", "立案", "市场监管")
    assert row["overdue"] is True


def test_the_figures_show_on_site_payments_and_the_total_in_yuan():
    cases = [_case(stage="closure", paid_fen=10000, on_site=True), _case(paid_fen=5050)]
    shown = dict(ev.figures(cases, 0.0, "en"))
    assert shown["Paid on the spot (count / yuan)"] == "1 / 100.00"
    assert shown["Collected in total (yuan)"] == "150.50"


@pytest.fixture
def opened(bus, demo_twin):
    """A real store with one open enforcement case (from a draw)."""
    from layers.loop import inspections
    from layers.loop.enforcement import EnforcementStore

    store = EnforcementStore(bus)
    drawn = inspections.draw(bus, demo_twin, "market", 1, 1, actor="chief")
    return store, store.open_drawn(drawn, "chief")[0].id


def test_a_commanders_flag_is_refused_and_nothing_is_recorded(opened):
    store, cid = opened
    assert ev.flag(store, COMMANDER, cid, "x", "en") == "Your role may not flag cases"
    assert not store.get(cid).flagged


def test_a_supervisors_flag_is_recorded_in_their_name(opened):
    store, cid = opened
    assert ev.flag(store, SUPERVISOR, cid, "late", "en").endswith(cid)
    assert store.get(cid).flags[0]["by"] == "sup"
