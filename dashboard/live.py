"""The live wall's data: layer updates as changed cells only, KPIs, alert ticker, department board.

Pure functions of (bus, twin, what the browser last had): the Command page's callbacks only
forward what these return. The browser keeps one record per land cell of the twin (fixed order),
so an update is a handful of `index -> record` assignments (a Dash `Patch`), never the full layer.
"""

from __future__ import annotations

import time
import warnings
from functools import lru_cache

import numpy as np

from dashboard import maps
from layers.loop.records import Alert, Case
from twin import cells as h3cells
from twin.settings import city_time

LIVE_LAYERS = ("iot.count", "video.count", "incident.count", "video.person.count",
               "video.crowd.count", "video.illegal_parking.count", "iot.water_level_m.max",
               "iot.rain_mm_h.mean", "iot.co_ppm.max", "iot.pm25.mean")
WINDOWS = ("5m", "1h", "24h")
RESCALE = 1.6  # a new colour scale this much wider/narrower than the browser's: full refresh
CLEAR = [0, 0, 0, 0]


def responsive(bus, timeout_s: float = 1.0):
    """The same bus with short socket timeouts, so a dead Redis makes the wall stale, not stuck."""
    return bus.with_timeout(timeout_s)


def alive(bus) -> bool:
    """True when Redis answers now."""
    return bus.ping()


@lru_cache(maxsize=4)
def _land(key: tuple, twin) -> tuple[np.ndarray, np.ndarray, list[str]]:
    positions = np.flatnonzero(twin.ds["is_land"].values)
    index = np.full(len(twin), -1, dtype=np.int64)
    index[positions] = np.arange(len(positions))
    return positions, index, h3cells.to_hex(twin.cell_ids[positions])


def land(twin) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(land positions, position -> record index or -1, hex ids of the land cells)."""
    return _land((twin.name, twin.resolution, len(twin)), twin)


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at least x: scales that do not shift with every tick."""
    if x <= 0:
        return 1.0
    k = np.floor(np.log10(x))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * 10**k >= x * (1 - 1e-9):
            return float(step * 10**k)
    return float(10 ** (k + 1))


def scale_of(values: np.ndarray) -> list[float]:
    """[vmin, vmax] of a layer's colour ramp: 0 to a round number above its 99th percentile."""
    finite = values[np.isfinite(values) & (values != 0)]
    if finite.size == 0:
        return [0.0, 1.0]
    lo = float(min(0.0, np.percentile(finite, 1)))
    hi = nice_ceiling(float(np.percentile(finite, 99)) - lo) + lo
    return [lo, hi]


def needs_rescale(old: list[float] | None, new: list[float]) -> bool:
    """True when the browser's colour scale no longer fits the layer: readings outgrew it, or
    it is far too wide for them."""
    if not old:
        return True
    span_old, span_new = old[1] - old[0], new[1] - new[0]
    return span_new > span_old * (1 + 1e-9) or span_new * RESCALE**2 < span_old


def records(values: np.ndarray, hexes: list[str], scale: list[float]) -> list[dict]:
    """One record per cell: cells with no reading are drawn clear."""
    rgba = maps.colors(np.nan_to_num(values), scale[0], scale[1], alpha=210)
    shown = np.isfinite(values) & (values != 0)
    rgba[~shown] = CLEAR
    return [{"hex": h, "v": (round(float(v), 3) if s else 0), "c": c}
            for h, v, s, c in zip(hexes, values.tolist(), shown.tolist(), rgba.tolist(),
                                  strict=True)]


def layer_spec(twin, values: np.ndarray, scale: list[float]) -> dict:
    """The live H3 layer over all land cells (sent once per page load or rescale)."""
    positions, _, hexes = land(twin)
    return {"@@type": "H3HexagonLayer", "id": "live", "getHexagon": "@@=hex",
            "getFillColor": "@@=c", "getLineColor": "@@=c", "lineWidthMinPixels": 2,
            "pickable": True, "stroked": True, "extruded": False,  # outlines: a lone cell shows
            "highPrecision": False, "data": records(values[positions], hexes, scale)}


def read_layer(bus, twin, layer: str, window: str) -> np.ndarray:
    """A live layer for all cells of the twin (zeros before the first snapshot)."""
    from layers.live import snapshot

    values = snapshot.read(bus, layer, window)
    if len(values) != len(twin):
        return np.zeros(len(twin), dtype=np.float32)
    return values


def update(bus, twin, layer: str, window: str, since: int, scale: list[float] | None) -> dict:
    """What the browser needs since snapshot version `since`.

    Returns {"version", "scale", "full": layer spec or None, "changed": {index: record}}:
    a full layer on the first call, after a rescale or when the change log no longer reaches
    back to `since`; otherwise only the changed land cells.
    """
    from layers.live import snapshot

    version, changed, _ = snapshot.changes_since(bus, since)
    values = read_layer(bus, twin, layer, window)
    new_scale = scale_of(values)
    if since <= 0 or changed is None or needs_rescale(scale, new_scale):
        return {"version": version, "scale": new_scale, "changed": {},
                "full": layer_spec(twin, values, new_scale)}
    positions, index, hexes = land(twin)
    idx = index[changed[(changed >= 0) & (changed < len(twin))]]
    idx = idx[idx >= 0]
    recs = records(values[positions[idx]], [hexes[i] for i in idx], scale)
    return {"version": version, "scale": scale, "full": None,
            "changed": dict(zip(idx.tolist(), recs, strict=True))}


def kpis(bus, twin, store, now: float | None = None) -> dict[str, float | None]:
    """The wall's headline figures from the bus and the case store."""
    from layers.live.worker import stats

    now = time.time() if now is None else now
    health = stats(bus)
    iot = read_layer(bus, twin, "iot.count", "5m")
    video = read_layer(bus, twin, "video.count", "5m")
    return {"kpi_events_min": round(health["events_per_s"] * 60.0),
            "kpi_open_cases": store.count_open(),
            "kpi_overdue": len(store.overdue(now)),
            "kpi_sensors_reporting": _reporting(twin, twin.sensors, iot),
            "kpi_cameras_reporting": _reporting(twin, twin.cameras, video)}


def _reporting(twin, registry, counts: np.ndarray) -> int:
    """Registry devices whose cell has events in the window (devices share cells rarely)."""
    if len(registry) == 0 or "cell" not in registry:
        return 0
    pos = twin.positions(registry["cell"].to_numpy(np.uint64))
    pos = pos[pos >= 0]
    return int((counts[pos] > 0).sum())


def ticker(alerts: list[Alert], lang: str, tz: str) -> list[dict]:
    """The latest alerts as short lines: time (in the city's time zone `tz`), title, category,
    severity."""
    return [{"id": a.id or "", "time": city_time(a.ts, tz).strftime("%H:%M:%S"),
             "title": a.title_in(lang), "category": a.category,
             "severity": int(a.severity)} for a in alerts]


def department_board(cases: list[Case], departments, now: float, lang: str) -> list[dict]:
    """Who is late: open and overdue cases per department, the most overdue first."""
    names = {}
    if departments is not None and len(departments):
        column = "name" if lang == "zh" or "name_en" not in departments else "name_en"
        names = dict(zip(departments["id"], departments[column], strict=True))
    rows: dict[str, dict] = {}
    for case in cases:
        late = case.overdue(now)
        for dept in case.departments:
            row = rows.setdefault(dept, {"department": dept, "name": names.get(dept, dept),
                                         "open": 0, "overdue": 0})
            row["open"] += 1
            row["overdue"] += int(late)
    return sorted(rows.values(), key=lambda r: (-r["overdue"], -r["open"], r["department"]))


def case_markers(cases: list[Case], now: float) -> dict:
    """A scatter layer of open cases: red when overdue, amber otherwise."""
    data = [{"position": [c.place.lng, c.place.lat], "id": c.id,
             "title": str(c.title or c.category),
             "color": [230, 40, 40, 240] if c.overdue(now) else [245, 190, 40, 230]}
            for c in cases]
    return {"@@type": "ScatterplotLayer", "id": "cases", "data": data,
            "getPosition": "@@=position", "getFillColor": "@@=color", "getRadius": 300,
            "radiusMinPixels": 5, "radiusMaxPixels": 14, "stroked": True,
            "getLineColor": [255, 255, 255, 255], "lineWidthMinPixels": 1, "pickable": True}


VEHICLE_FRESH_S = 600.0  # a vehicle silent for longer is no longer shown on the wall


def vehicle_markers(fixes: list, now: float) -> dict:
    """A scatter layer of the inspection vehicles' last fixes (fresh ones only), cyan."""
    data = [{"position": [f.lng, f.lat], "id": f.vehicle,
             "title": f.vehicle + ("" if f.heading is None else f" {f.heading:.0f}°")}
            for f in fixes if now - f.ts <= VEHICLE_FRESH_S]
    return {"@@type": "ScatterplotLayer", "id": "vehicles", "data": data,
            "getPosition": "@@=position", "getFillColor": [40, 220, 240, 250], "getRadius": 250,
            "radiusMinPixels": 6, "radiusMaxPixels": 12, "stroked": True,
            "getLineColor": [10, 30, 60, 255], "lineWidthMinPixels": 2, "pickable": True}


def replay_values(bus, twin, layer: str, window: str, end_ts: float) -> np.ndarray:
    """A layer as it stood at `end_ts`, rebuilt from the per-minute history (for replay)."""
    from layers.live import history
    from layers.live.schema import WINDOWS as MINUTES

    minutes = MINUTES[window]
    ds = history.load(bus, end_ts - 60 * (minutes - 1), end_ts, [layer])
    arr = ds[layer].values
    if arr.shape[1] != len(twin):
        return np.zeros(len(twin), dtype=np.float32)
    if layer.endswith(".count"):
        return arr.sum(axis=0)
    with warnings.catch_warnings():  # all-NaN cells (no reading) stay NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        if layer.endswith(".max"):
            return np.nanmax(arr, axis=0)
        if layer.endswith(".mean"):
            return np.nanmean(arr, axis=0)
    seen = ~np.isnan(arr)  # .last: the latest minute with a reading
    last = np.where(seen.any(axis=0), arr.shape[0] - 1 - np.argmax(seen[::-1], axis=0), 0)
    return np.where(seen.any(axis=0), arr[last, np.arange(arr.shape[1])], np.nan)
