"""What a grid manager sees of their cases, as plain data: which grid to open on (the one with
open cases), and per case what (category, the citizen's own words), where (street/town, grid,
nearest facility), when (opened, in the city's time zone, and the time left), with a marker.

Pure functions of (twin, cases, alerts, user); the Grid page turns them into cards.
"""

from __future__ import annotations

import numpy as np

from dashboard.case_view import category_label, clock_text, countdown
from dashboard.i18n import name_column
from dashboard.policy import User, visible_grids
from layers.loop.records import Case
from twin.settings import city_time

M_PER_DEG = 111_195.0


def busiest_grid(twin, points: dict, user: User | None, now: float) -> int | None:
    """The grid the user may see with most overdue open cases, else most open cases (None
    when none of their grids has an open case)."""
    if not len(points["id"]):
        return None
    pos = twin.locate(points["lat"], points["lng"])
    grid = np.where(pos >= 0, twin.ds["grid"].values[np.maximum(pos, 0)], -1)
    allowed = visible_grids(user)
    keep = grid >= 0
    if allowed is not None:
        keep &= np.isin(grid, sorted(allowed))
    if not keep.any():
        return None
    late = np.nan_to_num(points["deadline"], nan=np.inf) < now
    score = np.bincount(grid[keep], weights=1.0 + 1000.0 * late[keep])
    return int(np.argmax(score))


def nearest_facility(twin, lat: float, lng: float, lang: str) -> dict | None:
    """The facility nearest a point: its name and distance in metres."""
    table = twin.facilities
    if not len(table):
        return None
    flat, flng = table.geometry.y.to_numpy(float), table.geometry.x.to_numpy(float)
    dx = (flng - lng) * np.cos(np.radians(lat))
    metres = M_PER_DEG * np.hypot(dx, flat - lat)
    i = int(np.argmin(metres))
    column = name_column(table, lang)
    name = table[column].iloc[i] if column in table else table["id"].iloc[i]
    return {"name": str(name), "m": float(metres[i])}


def citizen_text(case: Case, alerts) -> str:
    """The citizen's own words behind a case (the first report of its first alert), if any."""
    for alert_id in case.alerts[:3]:
        alert = alerts.get(alert_id)
        for item in (alert.evidence if alert is not None else []):
            if item.get("text"):
                return str(item["text"])
    return ""


def unit_name(twin, case: Case, lang: str) -> str:
    units = twin.units
    if lang == "en" and "name_en" in units and case.place.unit >= 0:
        row = units[units["unit"] == case.place.unit]
        if len(row):
            return str(row["name_en"].iloc[0])
    return case.place.unit_name or ""


def case_cards(twin, cases: list[Case], alerts, now: float, lang: str) -> list[dict]:
    """One card per case, overdue first then the soonest deadline: what, where, when."""
    cards = []
    for case in sorted(cases, key=lambda c: (c.deadline or float("inf"), c.id)):
        clock = countdown(case, now, lang)
        place = case.place
        cards.append({
            "id": case.id, "what": category_label(case.category, lang),
            "title": case.title if lang == "zh" and case.title != category_label(
                case.category, "zh") else "",
            "text": citizen_text(case, alerts), "severity": int(case.severity),
            "unit": unit_name(twin, case, lang), "grid": place.grid_id or "",
            "facility": nearest_facility(twin, place.lat, place.lng, lang),
            "opened": clock_text(case.created, twin.timezone),
            "opened_iso": city_time(case.created, twin.timezone).isoformat(),
            "countdown": clock["text"], "overdue": clock["overdue"], "status": case.status,
            "lat": place.lat, "lng": place.lng})
    return cards


def markers(cards: list[dict], selected: str | None = None) -> dict:
    """A marker per case card on the grid map: red when overdue, larger when selected."""
    data = [{"position": [c["lng"], c["lat"]], "id": c["id"], "what": c["what"],
             "color": [235, 45, 45, 245] if c["overdue"] else [245, 190, 40, 240],
             "r": 14 if c["id"] == selected else 9} for c in cards]
    return {"@@type": "ScatterplotLayer", "id": "grid-case-markers", "data": data,
            "getPosition": "@@=position", "getFillColor": "@@=color", "getRadius": "@@=r",
            "radiusUnits": "pixels", "stroked": True, "getLineColor": [255, 255, 255, 255],
            "lineWidthMinPixels": 2, "pickable": True}
