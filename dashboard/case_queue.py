"""The Cases page's queue and map, server-side: filtering, sorting and paging in Redis's indexes,
a stable page while new cases arrive ("12 new"), and a map of the open cases that stays cheap at
10,000 of them (read from the GEO index, gathered per H3 cell at the map's zoom).

Pure functions of (case store, user, query): every list keeps to the grids the user may see
(`dashboard.policy.visible_grids`), as `case_view` does for single cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard import wall_panels, zoomlevels
from dashboard.case_view import department_names, queue_rows
from dashboard.policy import User, visible_grids
from layers.loop.cases import ORDERS, STATUSES, CaseStore

__all__ = ["FILTERS", "ORDERS", "PAGE_SIZE", "Query", "case_map", "filter_options", "ids",
           "new_since", "open_points", "page", "rows", "signature"]

PAGE_SIZE = 50
FILTERS = ("status", "department", "grid", "category")
MAP_PX = (720.0, 380.0)  # the Cases page's map, about


@dataclass(frozen=True)
class Query:
    """What the queue shows: filters, order, the time the list was taken (`as_of`), the page."""

    status: str | None = None
    department: str | None = None
    grid: int | None = None
    category: str | None = None
    order: str = "urgent"
    as_of: float | None = None
    page: int = 1

    @staticmethod
    def of(raw: dict | None) -> Query:
        """A query from the browser's store, with unknown values dropped."""
        raw = dict(raw or {})
        grid = raw.get("grid")
        return Query(status=raw.get("status") if raw.get("status") in STATUSES else None,
                     department=raw.get("department") or None,
                     grid=int(grid) if str(grid or "").lstrip("-").isdigit() else None,
                     category=raw.get("category") or None,
                     order=raw.get("order") if raw.get("order") in ORDERS else "urgent",
                     as_of=float(raw["as_of"]) if raw.get("as_of") else None,
                     page=max(1, int(raw.get("page") or 1)))

    def filters(self) -> dict:
        return {"status": self.status, "department": self.department, "category": self.category}


def _scope(user: User | None, query: Query) -> dict:
    """The grid filters that keep a list to what the user may see."""
    grids = visible_grids(user)
    if grids is None:
        return {"grid": query.grid}
    mine = grids if query.grid is None else grids & {int(query.grid)}
    return {"grids": sorted(mine)}


def ids(store: CaseStore, user: User | None, query: Query, open_only: bool = False) -> list[str]:
    """Ids of the cases the user may see that match the query, in its order, opened no later
    than `as_of`."""
    return store.ids(**query.filters(), **_scope(user, query), open_only=open_only,
                     order=query.order, until=query.as_of)


def page(store: CaseStore, user: User | None, query: Query, now: float, lang: str,
         twin, size: int = PAGE_SIZE) -> dict:
    """One page of the queue: its rows (in the query's order), the ids on it, the total and
    the number of pages."""
    found = ids(store, user, query)
    pages = max(1, -(-len(found) // size))
    number = min(query.page, pages)
    on_page = found[(number - 1) * size:number * size]
    return {"ids": on_page, "total": len(found), "pages": pages, "page": number,
            "rows": rows(store, on_page, now, lang, twin)}


def rows(store: CaseStore, case_ids: list[str], now: float, lang: str, twin) -> list[dict]:
    """Queue rows of some cases, in the order given (a refresh never reorders a page)."""
    cases = {c.id: c for c in store.many(case_ids)}
    built = {r["id"]: r for r in queue_rows(list(cases.values()), now, lang,
                                            department_names(twin, lang))}
    return [built[i] for i in case_ids if i in built]


def signature(page_rows: list[dict]) -> str:
    """What a page shows that can change: a refresh with the same signature changes nothing."""
    return "|".join(f"{r['id']}:{r['status']}:{r['overdue']}:{r['countdown']}"
                    for r in page_rows)


def new_since(store: CaseStore, user: User | None, query: Query) -> int:
    """How many cases matching the query the user may see were opened after the list was
    taken (the "12 new" button)."""
    if query.as_of is None:
        return 0
    return store.newer_than(query.as_of, **query.filters(), **_scope(user, query))


def open_points(store: CaseStore, user: User | None, query: Query) -> dict:
    """The open cases of the query that the user may see, where they are and when due."""
    points = store.open_points()
    wanted = set(ids(store, user, Query(**{**query.__dict__, "as_of": None}), open_only=True))
    keep = np.array([i in wanted for i in points["id"]], dtype=bool)
    return {k: v[keep] for k, v in points.items()}


CASE_FRAME_M = 400.0  # around a selected case: its cell, its neighbours and the streets near


def case_map(twin, points: dict, now: float, size: tuple[float, float] = MAP_PX,
             focus: tuple[float, float] | None = None) -> dict:
    """The Cases map: the open cases gathered per H3 cell at the zoom that fits them all (the
    district when there are none), a count on each, red where one is overdue; framed on the
    `focus` point (lat, lng: the selected case's cell) with a margin when one is given."""
    from dashboard import maps

    if focus is not None:
        bounds = zoomlevels.Bounds.of([focus[0]], [focus[1]]).padded(CASE_FRAME_M)
    elif len(points["id"]):
        bounds = zoomlevels.Bounds.of(points["lat"], points["lng"]).padded(300.0)
    else:
        lat, lng = twin.centers
        land = twin.ds["is_land"].values
        bounds = zoomlevels.Bounds.of(lat[land], lng[land])
    view = zoomlevels.fit_view(bounds, *size)
    level = zoomlevels.level_for_zoom(view["zoom"], view["latitude"], twin.resolution)
    clusters = wall_panels.case_clusters(points, now, wall_panels.cluster_level(
        level, twin.resolution))
    return maps.deck(twin, wall_panels.case_layers(clusters), view=view)


def filter_options(store: CaseStore, user: User | None, twin, lang: str) -> dict:
    """Options of the queue filters: every status, the twin's departments, the grids the user
    may see and the categories cases were opened in."""
    from dashboard.case_view import category_label
    from dashboard.i18n import t

    names = department_names(twin, lang)
    grids = visible_grids(user)
    table = twin.grids
    shown = table if grids is None else table[table["grid"].isin(sorted(grids))]
    return {"status": [{"value": s, "label": t(f"status_{s}", lang)} for s in STATUSES],
            "department": [{"value": d, "label": n} for d, n in sorted(names.items(),
                                                                         key=lambda p: p[1])],
            "grid": [{"value": str(int(g)), "label": str(i)}
                     for g, i in zip(shown["grid"], shown["id"], strict=True)],
            "category": [{"value": c, "label": category_label(c, lang)}
                         for c in store.categories_seen()]}
