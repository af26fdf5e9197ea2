"""The Cases page's queue and map, server-side (dashboard.case_queue), against a real Redis."""

from __future__ import annotations

from dashboard import case_queue as cq
from dashboard.policy import User
from tests.loop.conftest import alert

GRID_A = User("grid_a", "A", "grid_manager", frozenset({5, 6}))
COMMANDER = User("boss", "B", "commander")


def _open(store, twin, clock, specs):
    ids = {}
    for name, category, grid, age in specs:
        clock.advance(60)
        ids[name] = store.ingest(alert(twin, category, grid=grid, ts=clock() - age))[0]
    return ids


def _cases(store, twin, clock):
    return _open(store, twin, clock, [("water5", "waterlogging", 5, 0), ("water8", "waterlogging", 8, 0),
                                      ("fire6", "fire", 6, 3600), ("crowd5", "crowd", 5, 0)])


def test_a_grid_manager_pages_only_through_the_cases_of_their_grids(store, demo_twin, clock):
    ids = _cases(store, demo_twin, clock)
    shown = cq.page(store, GRID_A, cq.Query(order="newest"), clock(), "en", demo_twin)
    assert shown["ids"] == [ids["crowd5"], ids["water5"], ids["fire6"]]  # newest first
    assert cq.page(store, GRID_A, cq.Query(grid=8), clock(), "en", demo_twin)["total"] == 0


def test_pages_hold_page_size_rows_in_the_order_asked(store, demo_twin, clock):
    ids = _cases(store, demo_twin, clock)
    first = cq.page(store, COMMANDER, cq.Query(order="urgent"), clock(), "en", demo_twin, size=3)
    second = cq.page(store, COMMANDER, cq.Query(order="urgent", page=2), clock(), "en",
                     demo_twin, size=3)
    assert first["pages"] == 2 and first["ids"][0] == ids["fire6"]  # overdue first
    assert len(first["ids"]) == 3 and len(second["ids"]) == 1
    assert [r["id"] for r in first["rows"]] == first["ids"]


def test_new_cases_are_counted_not_slipped_into_the_page(store, demo_twin, clock):
    _cases(store, demo_twin, clock)
    query = cq.Query(order="newest", as_of=clock())
    before = cq.page(store, COMMANDER, query, clock(), "en", demo_twin)["ids"]
    _open(store, demo_twin, clock, [("new", "noise", 5, 0)])
    assert cq.page(store, COMMANDER, query, clock(), "en", demo_twin)["ids"] == before
    assert cq.new_since(store, COMMANDER, query) == 1
    assert cq.new_since(store, User("b", "B", "grid_manager", frozenset({8})), query) == 0


def test_a_refresh_keeps_the_page_order_and_notices_changes(store, demo_twin, clock):
    ids = _cases(store, demo_twin, clock)
    order = [ids["water8"], ids["water5"]]
    before = cq.rows(store, order, clock(), "en", demo_twin)
    assert [r["id"] for r in before] == order
    assert cq.signature(cq.rows(store, order, clock(), "en", demo_twin)) == cq.signature(before)
    store.act(ids["water5"], "accept", actor="grid_a")
    assert cq.signature(cq.rows(store, order, clock(), "en", demo_twin)) != cq.signature(before)


def test_the_map_gathers_the_open_cases_the_user_may_see(store, demo_twin, clock):
    ids = _cases(store, demo_twin, clock)
    points = cq.open_points(store, GRID_A, cq.Query())
    assert set(points["id"]) == {ids["water5"], ids["fire6"], ids["crowd5"]}
    deck = cq.case_map(demo_twin, points, clock())
    dots = next(layer for layer in deck["layers"] if layer["id"] == "cases")
    assert sum(d["n"] for d in dots["data"]) == 3
    assert [d["late"] for d in dots["data"] if d["late"]] == [1]  # the fire, overdue


def test_a_selected_case_is_framed_on_its_cell_with_a_margin(store, demo_twin, clock):
    from dashboard import zoomlevels

    ids = _cases(store, demo_twin, clock)
    points = cq.open_points(store, GRID_A, cq.Query())
    whole = cq.case_map(demo_twin, points, clock())["initialViewState"]
    case = store.get(ids["fire6"])
    framed = cq.case_map(demo_twin, points, clock(), focus=(case.place.lat, case.place.lng))
    view = framed["initialViewState"]
    assert view["zoom"] > whole["zoom"]  # closer than all the cases
    assert abs(view["latitude"] - case.place.lat) < 1e-3
    assert abs(view["longitude"] - case.place.lng) < 1e-3
    shown = zoomlevels.view_bounds(view, *cq.MAP_PX)  # the case's cell, its neighbours, margin
    assert shown.north - shown.south >= 2 * cq.CASE_FRAME_M / 111_195.0
    assert shown.south < case.place.lat < shown.north and shown.west < case.place.lng < shown.east


def test_filter_options_offer_the_users_grids_and_the_categories_seen(store, demo_twin, clock):
    _cases(store, demo_twin, clock)
    options = cq.filter_options(store, GRID_A, demo_twin, "en")
    assert {o["label"] for o in options["grid"]} == {"G0006", "G0007"}
    assert {o["value"] for o in options["category"]} == {"waterlogging", "fire", "crowd"}
    assert len(options["status"]) == 8


def test_a_query_from_the_browser_drops_what_it_does_not_know():
    query = cq.Query.of({"status": "bogus", "grid": "x", "order": "loud", "page": "0"})
    assert query == cq.Query()
