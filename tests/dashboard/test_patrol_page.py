"""The Inspection page (巡检): coverage per street/town over the last city days, the vehicles, and
the route what-if over the streets/towns not inspected; its pure view, its callback through the
Flask test client, and who may open it."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dashboard import patrol_view as pv
from dashboard import policy
from dashboard.policy import User
from layers.live.producer import Producer
from layers.live.tracks import KEEP_DAYS, TrackGate, recent_days
from sim.patrol import Route, coverage
from tests.dashboard.conftest import DEMO_PASSWORDS
from tests.layers.test_vehicle import fix

CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\uff0c\uff1a\uff1b\u3001]")
PLANNER = User("p", "P", "planner")
GRID_A = User("a", "A", "grid_manager", frozenset({5, 6}))


def road_of(twin, unit: int) -> np.ndarray:
    """The road cells of one street/town, its westernmost first, then the nearest to it."""
    cells = np.flatnonzero((twin.ds["road_capacity"].values > 0)
                           & (twin.ds["unit"].values == unit))
    lat, lng = twin.centers
    west = cells[np.argmin(lng[cells])]
    return cells[np.argsort(np.hypot(lat[cells] - lat[west], lng[cells] - lng[west]))]


def drive(bus, twin, unit: int, n: int = 3, now: float | None = None) -> list[int]:
    """A vehicle's fixes on the first `n` road cells of a street/town, the last a minute ago."""
    now = time.time() if now is None else now
    cells = road_of(twin, unit)[:n].tolist()
    Producer(bus, twin).publish("vehicle", [fix(twin, i, c, now - 60 * (len(cells) - i))
                                            for i, c in enumerate(cells)])
    return cells


# -- the pure view ---------------------------------------------------------------------------------
def test_a_street_not_inspected_is_drawn_apart_and_the_others_by_their_share(small):
    table = coverage(small, road_of(small, 0)[:2])  # West: 2 of its road cells; East: none
    records = pv.coverage_records(small, table, "en")
    by_unit = {r["unit"]: r for r in records}
    assert set(by_unit) == {0, 1}
    west, east = by_unit[0], by_unit[1]
    share = 2 / table.set_index("unit").loc[0, "road_cells"]
    assert west["fill"][:3] == pv.share_rgb(share) and east["fill"][:3] == pv.NOT_INSPECTED_RGB
    assert east["line"] != west["line"]  # a red outline as well as a red fill
    assert west["title"] == f"West: {100 * share:.0f}% covered (2 of 7 road cells)"
    assert east["title"] == "East: not inspected (4 road cells)"
    ring = west["polygon"][0]
    assert ring[0] == ring[-1] and all(len(p) == 2 for p in ring)  # closed [lng, lat] rings
    layer = pv.coverage_layer(records)
    assert layer["@@type"] == "PolygonLayer" and layer["data"] is records


def test_the_share_ramp_runs_from_none_to_all_and_the_legend_says_percent():
    assert pv.share_rgb(0.0) == pv.SHARE_RAMP[0].astype(int).tolist()
    assert pv.share_rgb(1.0) == pv.SHARE_RAMP[-1].astype(int).tolist()
    assert pv.share_rgb(2.0) == pv.share_rgb(1.0)
    for lang in ("zh", "en"):
        legend = pv.legend(lang)
        assert "%" in legend["title"] and (legend["low"], legend["high"]) == ("0%", "100%")
        assert [c["rgb"] for c in legend["classes"]][:2] == [pv.NOT_INSPECTED_RGB,
                                                            pv.NO_ROADS_RGB]
    assert not CJK.search(json.dumps(pv.legend("en"), ensure_ascii=False))


def test_the_table_lists_streets_not_inspected_first_and_the_headline_counts_them(small):
    table = coverage(small, road_of(small, 0)[:1])
    rows = pv.coverage_rows(table, "zh", pv.unit_names(small, "zh"))
    assert [r["unit"] for r in rows] == [1, 0]
    assert rows[0]["inspected_text"] == "否" and rows[1]["inspected_text"] == "是"
    assert rows[1]["share"] == f"{100 / 7:.0f}%" and rows[1]["covered_cells"] == 1
    assert pv.headline(table, "en") == "1 of 2 streets/towns inspected"
    assert pv.headline(table, "zh") == "已巡检 1 / 2 个街镇"


def test_a_street_with_no_road_cells_is_listed_last_and_not_counted(small):
    table = coverage(small, road_of(small, 0)[:1])
    table.loc[table["unit"] == 1, ["road_cells", "share"]] = [0, np.nan]
    rows = pv.coverage_rows(table, "en", pv.unit_names(small, "en"))
    assert rows[-1]["unit"] == 1 and rows[-1]["inspected_text"] == "No road cells"
    assert pv.headline(table, "en") == "1 of 1 streets/towns inspected"
    east = next(r for r in pv.coverage_records(small, table, "en") if r["unit"] == 1)
    assert east["fill"][:3] == pv.NO_ROADS_RGB


def test_the_period_is_the_last_n_city_days_today_included():
    just_after = dt.datetime(2023, 11, 15, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert recent_days(1, just_after, "Asia/Shanghai") == [20231115]
    assert recent_days(1, just_after, "UTC") == [20231114]  # still the 14th in UTC
    assert recent_days(7, just_after, "Asia/Shanghai")[0] == 20231109
    assert pv.window_text(7, just_after, "Asia/Shanghai", "en") == \
        "2023-11-09 to 2023-11-15 (city time)"
    assert pv.window_text(1, just_after, "Asia/Shanghai", "zh") == "今天（城市时间 2023-11-15）"
    with pytest.raises(ValueError, match=f"from 1 to {KEEP_DAYS}"):
        recent_days(KEEP_DAYS + 1, just_after, "UTC")
    assert [o["value"] for o in pv.day_options("en")] == [str(n) for n in
                                                          range(1, KEEP_DAYS + 1)]
    assert pv.day_options("en")[6]["label"] == "Last 7 days (this week)"
    assert pv.days_of(None) == pv.DEFAULT_DAYS == 7


def test_the_route_layer_is_a_path_through_the_route_cells_in_driving_order(small):
    cells = road_of(small, 0)[:4]
    layer = pv.route_layer(small, Route(cells, length_m=1.0), "x")
    lat, lng = small.centers
    assert layer["@@type"] == "PathLayer" and len(layer["data"]) == 1
    path = layer["data"][0]["path"]
    assert path == np.c_[lng[cells], lat[cells]].round(6).tolist()
    assert pv.route_layer(small)["data"] == []  # no route yet: an empty layer


def test_the_plan_covers_the_streets_not_inspected_and_states_length_time_and_solver(small):
    table = coverage(small, road_of(small, 1))  # East inspected; the route starts there
    plan = pv.plan(small, table, "en")
    assert plan["todo"] == [0] and plan["order"] == ["West"] and plan["unreachable"] == []
    assert plan["km"] > 0 and plan["minutes"] > 0
    assert plan["lines"][0] == f"{plan['km']:.1f} km, about {plan['minutes']:,.0f} min of driving"
    text = "\n".join(plan["lines"])
    assert "greedy nearest neighbour" in text and "Cannot reach: None" in text
    assert "What-if (not live)" in plan["layer"]["data"][0]["title"]
    zh = pv.plan(small, table, "zh")
    assert zh["lines"][0].startswith("全程") and "贪心最近邻" in "".join(zh["lines"])
    assert not any(re.search(r"[A-Za-z]{3,}", line) for line in zh["lines"])


def test_nothing_is_planned_when_every_street_was_inspected(small):
    table = coverage(small, np.flatnonzero(small.ds["road_capacity"].values > 0))
    plan = pv.plan(small, table, "en")
    assert plan["layer"]["data"] == [] and plan["km"] == 0
    assert plan["lines"] == ["Every street/town was inspected in the period: no route to plan"]


def test_a_refresh_reads_the_vehicles_coverage_and_clears_the_route_when_the_period_changes(
        bus, small):
    now = time.time()
    drive(bus, small, unit=1, now=now)
    shown = pv.update(small, bus, 7, "en", "patrol-tick", now)
    assert shown["headline"] == "1 of 2 streets/towns inspected" and shown["route"] is None
    assert set(shown["layers"]) == {pv.COVERAGE, pv.VEHICLES}
    assert shown["layers"][pv.VEHICLES]["data"][0]["id"] == "V1"
    assert shown["vehicles"].endswith(": 1")
    planned = pv.update(small, bus, 7, "en", "patrol-plan", now)
    assert planned["route"]["order"] == ["West"] and planned["layers"][pv.ROUTE]["data"]
    cleared = pv.update(small, bus, 1, "en", "patrol-days", now)
    assert cleared["route"]["lines"] == [] and cleared["layers"][pv.ROUTE]["data"] == []


def test_a_fix_older_than_the_period_does_not_count(bus, small):
    now = time.time()
    then = now - 3 * 86400  # fixes sent three days ago (the gate judged them then)
    cells = road_of(small, 0)[:2].tolist()
    TrackGate(bus, small).admit([fix(small, i, c, then - 60 + 30 * i)
                                 for i, c in enumerate(cells)], now=then)
    assert pv.coverage_table(small, bus, 1, now)["inspected"].sum() == 0
    assert pv.coverage_table(small, bus, 7, now).set_index("unit").loc[0, "inspected"]


# -- who may open it -------------------------------------------------------------------------------
def test_planners_commanders_and_admins_may_open_the_page_grid_managers_not():
    assert policy.can_open(PLANNER, "/patrol")
    assert policy.can_open(User("c", "C", "commander"), "/patrol")
    assert policy.can_open(User("r", "R", "admin"), "/patrol")
    assert not policy.can_open(GRID_A, "/patrol")
    assert not policy.can_open(User("s", "S", "supervisor"), "/patrol")


# -- the page through the Flask test client ----------------------------------------------------------
@pytest.fixture
def app_on(demo_twin):
    """A function making the app on the demo twin (with or without a bus); the context of the
    app before is restored."""
    from dashboard import context as app_context
    from dashboard.app import create_app

    before = app_context._CONTEXT
    yield lambda bus=None: create_app(demo_twin, bus=bus)
    app_context._CONTEXT = before


def _client(app, name: str):
    client = app.server.test_client()
    reply = client.post("/login", data={"username": name, "password": DEMO_PASSWORDS[name]})
    assert reply.status_code == 303
    client.get("/_dash-dependencies")
    return client


def _router(client, path: str) -> str:
    from dashboard import auth

    reply = client.post("/_dash-update-component", json={
        "output": auth.ROUTER_OUTPUT,
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": "?lang=en"}],
        "changedPropIds": ["_pages_location.pathname"]})
    assert reply.status_code == 200
    return json.dumps(reply.get_json(), ensure_ascii=False)


def _update(app, client, trigger: str, days: str = "7"):
    output = next(k for k in app.callback_map if k.startswith("..patrol-map.data..."))
    values = {"patrol-days": days, "patrol-tick": 0, "patrol-plan": 1}
    spec = app.callback_map[output]
    outs = [dict(zip(("id", "property"), p.split("@")[0].rsplit(".", 1), strict=True))
            for p in output.strip(".").split("...")]
    body = {"output": output, "outputs": outs,
            "inputs": [{"id": s["id"], "property": s["property"], "value": values[s["id"]]}
                       for s in spec["inputs"]],
            "state": [{"id": "patrol-lang", "property": "data", "value": "en"}],
            "changedPropIds": [f"{trigger}.{'n_clicks' if trigger == 'patrol-plan' else 'value'}"]}
    return client.post("/_dash-update-component", json=body)


def test_a_planner_opens_the_page_and_plans_the_route_through_the_callback(app_on, bus,
                                                                           demo_twin):
    first = int(demo_twin.units["unit"].min())
    drive(bus, demo_twin, unit=first)
    app = app_on(bus)
    client = _client(app, "planner")
    page = _router(client, "/patrol")
    n = len(demo_twin.units)
    assert f"1 of {n} streets/towns inspected" in page and "patrol-map" in page
    assert "Plan route" in page and "What-if (not live)" in page
    reply = _update(app, client, "patrol-plan")
    assert reply.status_code == 200
    shown = reply.get_json()["response"]
    text = json.dumps(shown["patrol-route"], ensure_ascii=False)
    assert re.search(r"\d+\.\d km, about [\d,]+ min of driving", text)
    assert "greedy nearest neighbour" in text
    layers = json.dumps(shown["patrol-map"])
    assert '"PathLayer"' in layers and '"path"' in layers
    assert "1 of" in json.dumps(shown["patrol-headline"])


def test_a_period_outside_the_choices_answers_400(app_on, bus):
    app = app_on(bus)
    client = _client(app, "planner")
    assert _update(app, client, "patrol-days", days="30").status_code == 400
    assert _update(app, client, "patrol-days", days="3").status_code == 200


def test_a_grid_manager_is_refused_the_page_and_its_callback(app_on, bus):
    app = app_on(bus)
    client = _client(app, "grid_a")
    shown = _router(client, "/patrol")
    assert '"forbidden"' in shown and "patrol-map" not in shown
    assert _update(app, client, "patrol-plan").status_code == 403


def test_without_a_bus_the_page_says_so(app_on):
    app = app_on(None)
    shown = _router(_client(app, "planner"), "/patrol")
    assert "patrol-no-bus" in shown and "No event bus" in shown and "patrol-map" not in shown
