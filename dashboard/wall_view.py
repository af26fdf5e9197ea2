"""The Command wall's state machine, pure: what the map frames, which H3 level it shows, what
changed since the browser's last update, and the rotation of the playlist.

`initial` gives the page everything at load, from the last snapshot (so the first figures show
with the page, not after a first poll); `tick` gives a Dash `Patch` of what changed since the
browser's state: changed cells only at the frame's level, a full layer only when the frame, the
layer or its colour scale changes. The page's callbacks forward what these return.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from dash import Patch

from dashboard import inputs, live, overlay, wall_panels, walls, zoomlevels
from dashboard.i18n import t

LIVE, CASES, COUNTS, SCENARIO, VEHICLES = 1, 2, 3, 4, 5  # layer positions (0: basemap)
DESK_PX = (1100.0, 620.0)  # the desk page's map, about
REFIT = 0.15  # the browser's map differs this much from the size fitted for: fit again

_SIZE = inputs.optional(inputs.items(inputs.number(0, 100_000), 2))
STATE = inputs.mapping({  # what `initial` and `tick` keep in the browser, as its input contract
    "version": inputs.VERSION,  # a snapshot version: below 2**53, exact in the browser
    "scale": inputs.optional(inputs.items(inputs.number(-1e30, 1e30), 2)),
    "layer": inputs.optional(inputs.one_of(live.LIVE_LAYERS, "a live layer")),
    "window": inputs.optional(inputs.one_of(live.WINDOWS, "a time window")),
    "markers": inputs.optional(inputs.integer(0, 2 ** 53)),
    "vehicles": inputs.optional(inputs.integer(0, 2 ** 53)),
    "scenario": inputs.optional(inputs.token(r"[A-Za-z0-9_-]{1,64}", "a run id")),
    "fitted": _SIZE, "size": _SIZE,
    "replay": inputs.optional(inputs.integer(0, 7 * 24 * 60)),
    "view": inputs.optional(inputs.mapping({
        "latitude": inputs.number(-90, 90), "longitude": inputs.number(-180, 180),
        "zoom": inputs.number(0, 24), "pitch": inputs.number(0, 90),
        "bearing": inputs.number(-360, 360)}, "a map view")),
    "frame": inputs.optional(inputs.mapping({
        "level": inputs.integer(0, 15),
        "bounds": inputs.optional(inputs.items(inputs.number(-180, 180), 4))}, "a map frame")),
    "step": inputs.optional(inputs.integer(0, 10_000)),
    "step_since": inputs.optional(inputs.number(0, 1e11)),
    "kind": inputs.optional(inputs.token(r"[a-z_]{1,20}", "a view kind")),
}, "the wall's state")


@dataclass
class Services:
    """What the wall reads: the bus (short timeouts), the case and alert stores."""

    bus: object
    cases: object
    alerts: object


@dataclass
class Shown:
    """Everything the wall shows at one moment (the page turns it into components)."""

    state: dict
    kpis: dict
    ticker: list[dict]
    board: list[dict]
    legend: dict
    title: str
    whatif: dict | None
    patch: Patch | None = None
    deck: dict | None = None
    extra: dict = field(default_factory=dict)


def map_size(state: dict, config: walls.WallConfig | None) -> tuple[float, float]:
    """The map's size in the browser (reported), else the size its screen is tuned for."""
    size = state.get("size")
    if size and size[0] > 0 and size[1] > 0:
        return float(size[0]), float(size[1])
    return config.map_px() if config is not None else DESK_PX


def frame_for(twin, bounds: zoomlevels.Bounds, size: tuple[float, float],
              config: walls.WallConfig | None) -> tuple[dict, live.Frame]:
    """(the view fitting `bounds` in a map of `size`, the frame it needs: the level whose
    hexagons read at that zoom and, below the district view, only the cells in view)."""
    view = zoomlevels.fit_view(bounds, *size, margin=0.06)
    min_px = config.min_hex_px if config is not None else zoomlevels.MIN_HEX_PX
    level = zoomlevels.level_for_zoom(view["zoom"], view["latitude"], twin.resolution, min_px)
    if config is not None and config.pitch:
        view["pitch"] = config.pitch
    shown = zoomlevels.view_bounds(view, *size)
    land = zoomlevels.Bounds.of(*_land_centres(twin))
    whole = (shown.south <= land.south and shown.north >= land.north
             and shown.west <= land.west and shown.east >= land.east)
    box = None if whole else (round(shown.south, 5), round(shown.west, 5),
                              round(shown.north, 5), round(shown.east, 5))
    return view, live.Frame(level, box)


def _land_centres(twin) -> tuple[np.ndarray, np.ndarray]:
    lat, lng = twin.centers
    land = twin.ds["is_land"].values
    return lat[land], lng[land]


def choose_view(twin, config: walls.WallConfig | None, step: int, points: dict,
                active: dict | None, now: float) -> tuple[int, zoomlevels.Bounds, str]:
    """(the playlist step shown, the box it frames, its kind); the desk page always shows the
    district. A step with nothing to show falls back to the district."""
    kinds = [s.view for s in config.playlist] if config is not None else ["district"]
    step = step % len(kinds)
    kind = kinds[step]
    bounds = walls.view_bounds(kind, twin, points, active, now)
    if bounds is None:
        kind = "district"
        bounds = walls.view_bounds(kind, twin, points, active, now)
    return step, bounds, kind


def due_step(state: dict, config: walls.WallConfig | None, now: float, twin, points: dict,
             active: dict | None) -> int:
    """The playlist step to show now: the current one until its time is up, then the next one
    that has something to show."""
    step = int(state.get("step", 0))
    if config is None or len(config.playlist) < 2:
        return 0
    if now - float(state.get("step_since", now)) < config.playlist[step % len(
            config.playlist)].seconds:
        return step
    return walls.next_step(config, step, lambda kind: walls.view_bounds(
        kind, twin, points, active, now) is not None)


def figures(svc: Services, twin, lang: str, now: float, active: dict | None) -> tuple:
    """(KPIs, ticker rows, department board rows) from the stores."""
    kpis = live.kpis(svc.bus, twin, svc.cases, now)
    kpis["kpi_people_hazard"] = active["people_affected"] if active else 0
    alerts = svc.alerts.list(limit=40)
    ticker = wall_panels.ticker(alerts, twin, now, lang, twin.timezone)
    deps = list(twin.departments["id"]) if len(twin.departments) else []
    counts = svc.cases.department_counts(deps + ["command"], now)
    return kpis, ticker, live.department_board(counts, twin.departments, lang)


def legend_of(layer: str, window: str, scale: list[float], level: int, lang: str) -> dict:
    return wall_panels.legend(t(f"layer_{layer}", lang), layer, t(f"wall_w_{window}", lang),
                              scale, level, lang)


def whatif_label(active: dict | None, lang: str, tz: str) -> dict | None:
    """What the wall says of a what-if on it: its name, when it was run and by whom."""
    if not active:
        return None
    from dashboard.case_view import clock_text

    ran = clock_text(active["ran_at"], tz) if active.get("ran_at") else ""
    name = [p.strip() for p in str(active.get("name") or active.get("run_id", "")).split(" / ")]
    name = name[-1] if lang == "en" and len(name) == 2 else name[0]  # a bilingual 'zh / en'
    return {"name": name, "ran_at": ran,
            "ran_by": str(active.get("ran_by") or ""), "hazard": active.get("hazard", "")}


def _frame_state(view: dict, frame: live.Frame, step: int, now: float, kind: str) -> dict:
    return {"view": view, "frame": frame.to_state(), "step": step, "step_since": now,
            "kind": kind}


def initial(svc: Services, twin, config: walls.WallConfig | None, layer: str, window: str,
            lang: str, now: float | None = None) -> Shown:
    """Everything the page shows on load, from the last snapshot (and the deck spec)."""
    from dashboard import maps

    now = time.time() if now is None else now
    active = overlay.read(svc.bus)
    points = svc.cases.open_points()
    step, bounds, kind = choose_view(twin, config, 0, points, active, now)
    view, frame = frame_for(twin, bounds, map_size({}, config), config)
    extruded = bool(config is not None and config.extruded)
    upd = live.update(svc.bus, twin, layer, window, 0, None, frame, extruded)
    markers = wall_panels.case_layers(wall_panels.case_clusters(
        points, now, wall_panels.cluster_level(frame.level, twin.resolution)), _font(config))
    vehicles = vehicle_layer(svc.bus, twin, now)
    deck = maps.deck(twin, [upd["full"], *markers, overlay.layer(active), vehicles], view=view)
    state = {"version": upd["version"], "scale": upd["scale"], "layer": layer,
             "window": window, "markers": _signature(markers), "scenario": _run(active),
             "vehicles": _where(vehicles),
             "fitted": list(map_size({}, config)),
             **_frame_state(view, frame, step, now, kind)}
    kpis, ticker, board = figures(svc, twin, lang, now, active)
    return Shown(state, kpis, ticker, board, legend_of(layer, window, upd["scale"], frame.level,
                                                       lang),
                 walls.view_title(kind, twin, points, now, lang),
                 whatif_label(active, lang, twin.timezone), deck=deck)


def tick(svc: Services, twin, config: walls.WallConfig | None, state: dict, layer: str,
         window: str, lang: str, size: list | None = None, replay: int = 0,
         now: float | None = None) -> Shown:
    """One wall update: a Patch of the map (changed cells, or a full layer when the frame or
    the scale changed), the playlist's next view when due, and the figures."""
    now = time.time() if now is None else now
    state = dict(state or {})
    if size:
        state["size"] = list(size)
    active = overlay.read(svc.bus)
    points = svc.cases.open_points()
    patch = Patch()
    step = due_step(state, config, now, twin, points, active)
    fitted = state.get("fitted") or list(map_size({}, config))
    refit = size and abs(size[0] - fitted[0]) > REFIT * fitted[0]
    if step != state.get("step") or refit or "frame" not in state:
        step, bounds, kind = choose_view(twin, config, step, points, active, now)
        view, frame = frame_for(twin, bounds, map_size(state, config), config)
        state.update(_frame_state(view, frame, step, now, kind), version=0, scale=None,
                     fitted=list(map_size(state, config)))
        patch["initialViewState"] = view
    frame = live.Frame.of(state, twin)
    extruded = bool(config is not None and config.extruded)
    if replay:
        values, _, hexes = live.framed(twin, layer, live.replay_values(
            svc.bus, twin, layer, window, now - 60 * replay), frame)
        scale = live.scale_of(values)
        patch["layers"][LIVE] = live.layer_spec(values, hexes, scale, extruded)
        state.update(version=0, scale=None, replay=replay)
    else:
        if state.get("layer") != layer or state.get("window") != window or state.get("replay"):
            state.update(version=0, scale=None, layer=layer, window=window, replay=0)
        upd = live.update(svc.bus, twin, layer, window, int(state.get("version") or 0),
                          state.get("scale"), frame, extruded)
        if upd["full"] is not None:
            patch["layers"][LIVE] = upd["full"]
        for idx, rec in upd["changed"].items():
            patch["layers"][LIVE]["data"][idx] = rec
        state.update(version=upd["version"], scale=upd["scale"])
        scale = upd["scale"]
    markers = wall_panels.case_layers(wall_panels.case_clusters(
        points, now, wall_panels.cluster_level(frame.level, twin.resolution)), _font(config))
    if _signature(markers) != state.get("markers"):
        patch["layers"][CASES], patch["layers"][COUNTS] = markers
        state["markers"] = _signature(markers)
    if _run(active) != state.get("scenario"):
        patch["layers"][SCENARIO] = overlay.layer(active)
        state["scenario"] = _run(active)
    vehicles = vehicle_layer(svc.bus, twin, now)
    if _where(vehicles) != state.get("vehicles"):
        patch["layers"][VEHICLES] = vehicles
        state["vehicles"] = _where(vehicles)
    kpis, ticker, board = figures(svc, twin, lang, now, active)
    return Shown(state, kpis, ticker, board, legend_of(layer, window, scale, frame.level, lang),
                 walls.view_title(state.get("kind", "district"), twin, points, now, lang),
                 whatif_label(active, lang, twin.timezone), patch=patch)


def _signature(markers: list[dict]) -> int:
    """A fingerprint of the case markers, below 2**53 so the browser holds it exactly."""
    return hash(tuple((tuple(r["position"]), r["n"], r["late"]) for r in markers[0]["data"])) \
        & (2 ** 53 - 1)


def vehicle_layer(bus, twin, now: float) -> dict:
    """The inspection vehicles at their last fixes (fresh ones only): the wall's and the
    Inspection page's vehicle layer."""
    from layers.live.tracks import TrackGate

    return live.vehicle_markers(TrackGate(bus, twin).last_fixes(), now)


def _where(vehicles: dict) -> int:
    """A fingerprint of the vehicles' places, below 2**53 (exact in the browser)."""
    return hash(tuple((v["id"], *v["position"]) for v in vehicles["data"])) & (2 ** 53 - 1)


def _run(active: dict | None) -> str | None:
    return active["run_id"] if active else None


def _font(config: walls.WallConfig | None) -> float:
    """Marker text size: the wall's body text size on the screen it is tuned for."""
    return font_px(config)


def font_px(config: walls.WallConfig | None) -> float:
    """Body text in px for charts and markers: 0.75 % of the screen width on a wall (28.8 px at
    3840), 14 px on the desk page."""
    return 14.0 if config is None else max(14.0, 0.0075 * config.screen.width)


def slow_panels(svc: Services, twin, lang: str, config: walls.WallConfig | None,
                now: float | None = None) -> dict:
    """The panels that change by the minute: events per minute (24 h), the day's figures, and
    open/overdue cases per street/town."""
    from layers.live.checkpoint import CheckpointStore

    now = time.time() if now is None else now
    first, last = wall_panels.minute_range(now)
    series = wall_panels.events_series(CheckpointStore(svc.bus).totals(first, last), first, last)
    font = font_px(config) * 0.85
    open_n, late_n = wall_panels.unit_case_counts(twin, svc.cases.open_points(), now)
    day = svc.cases.day_figures(wall_panels.day_start(now, twin.timezone), now)
    return {"events": wall_panels.events_figure(series, lang, twin.timezone, font),
            "day": wall_panels.day_tiles(day),
            "choropleth": wall_panels.choropleth_figure(twin, open_n, late_n, lang, font)}
