"""The case store's queries for the pages: filters, stable paging, urgency, open points, the day."""

from __future__ import annotations

import numpy as np
import pytest

from layers.loop.cases import geohash_decode
from tests.loop.conftest import alert


def _open(store, twin, clock, specs):
    ids = {}
    for name, category, grid in specs:
        clock.advance(60)
        ids[name] = store.ingest(alert(twin, category, grid=grid, ts=clock()))[0]
    return ids


def test_cases_filter_by_category_and_by_any_of_several_grids(store, demo_twin, clock):
    ids = _open(store, demo_twin, clock, [("a", "noise", 5), ("b", "fire", 6), ("c", "noise", 8)])
    assert store.ids(category="noise") == [ids["c"], ids["a"]]
    assert set(store.ids(grids=[5, 6])) == {ids["a"], ids["b"]}
    assert store.ids(category="noise", grids=[5, 6]) == [ids["a"]]


def test_a_list_until_a_time_keeps_its_rows_while_new_cases_arrive(store, demo_twin, clock):
    ids = _open(store, demo_twin, clock, [("a", "noise", 5), ("b", "fire", 6)])
    as_of = clock()
    _open(store, demo_twin, clock, [("c", "crowd", 7)])
    assert store.ids(until=as_of) == [ids["b"], ids["a"]]
    assert store.newer_than(as_of) == 1
    assert store.newer_than(as_of, category="noise") == 0


def test_the_urgent_order_puts_the_soonest_deadline_first(store, demo_twin, clock):
    ids = _open(store, demo_twin, clock, [("noise", "noise", 5), ("fire", "fire", 6)])
    assert store.ids(order="urgent")[0] == ids["fire"]  # accept within 2 min, not 60


def test_an_unknown_order_is_refused_naming_the_orders(store):
    from layers.loop.cases import CaseError

    with pytest.raises(CaseError, match="newest, urgent"):
        store.ids(order="loudest")


def test_open_points_give_every_open_case_where_it_is_and_its_deadline(store, demo_twin, clock):
    ids = _open(store, demo_twin, clock, [("a", "noise", 5), ("b", "fire", 6)])
    store.act(ids["b"], "accept", actor="grid_a")
    store.act(ids["b"], "resolve", actor="grid_a", note="done")
    points = store.open_points()
    assert points["id"].tolist() == [ids["a"]]
    case = store.get(ids["a"])
    assert points["lat"][0] == pytest.approx(case.place.lat, abs=1e-5)
    assert points["lng"][0] == pytest.approx(case.place.lng, abs=1e-5)
    assert points["deadline"][0] == case.deadline


def test_geohash_scores_decode_as_geopos_does(store, demo_twin, clock):
    cid = _open(store, demo_twin, clock, [("a", "noise", 5)])["a"]
    key = store._k("open:geo:noise")
    score = store.redis.zscore(key, cid)
    lng, lat = store.redis.geopos(key, cid)[0]
    got_lat, got_lng = geohash_decode(np.array([score]))
    assert got_lat[0] == pytest.approx(lat, abs=1e-9) and got_lng[0] == pytest.approx(lng, abs=1e-9)


def test_the_day_counts_opened_resolved_still_open_and_overdue(store, demo_twin, clock):
    start = clock()
    ids = _open(store, demo_twin, clock, [("a", "noise", 5), ("b", "fire", 6)])
    store.act(ids["a"], "accept", actor="grid_a")
    store.act(ids["a"], "resolve", actor="grid_a", note="done")
    clock.advance(3600)
    day = store.day_figures(start, clock())
    assert day == {"opened": 2, "still_open": 1, "resolved": 1, "overdue": 1}


def test_a_reopened_case_no_longer_counts_as_resolved(store, demo_twin, clock):
    cid = _open(store, demo_twin, clock, [("a", "noise", 5)])["a"]
    for action in ("accept", "resolve", "reopen"):
        store.act(cid, action, actor="admin", note="x")
    assert store.day_figures(0, clock() + 1)["resolved"] == 0


def test_views_written_before_the_indexes_are_indexed_once(store, demo_twin, clock):
    ids = _open(store, demo_twin, clock, [("a", "noise", 5), ("b", "fire", 6)])
    store.redis.delete(store._k("categories"), store._k("category:noise"),
                       store._k("category:fire"))
    assert store.ensure_indexes() == 2
    assert store.ids(category="fire") == [ids["b"]] and store.ensure_indexes() == 0
