"""Command page (video wall): the district map with a live layer, KPIs, alerts, who is late.

`/` for a desk, `/?wall=1` for the kiosk wall. Every 1.5 s one callback asks `dashboard.live`
for what changed since the browser's snapshot version and sends only the changed cells as a
Dash `Patch`; a stale banner shows while Redis does not answer. A replay slider scrubs the last
24 h of layer history, then returns to live.
"""

from __future__ import annotations

import time
from functools import lru_cache

import dash_mantine_components as dmc
from dash import Input, Output, Patch, State, callback, dcc, html, no_update

from dashboard import cards, inputs, live, maps, overlay
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t
from layers.live.tracks import TrackGate

PATH = "/"
STATIC = ("population", "elevation_m", "road_capacity", "land_use")
TICK_MS = 1500
REPLAY_MINUTES = 24 * 60
INPUTS = {  # what each input of this page's callbacks may carry (dashboard.inputs)
    "wall-tick.n_intervals": inputs.COUNT,
    "wall-state.data": inputs.optional(inputs.mapping({
        "version": inputs.VERSION, "replay": inputs.COUNT,
        "scale": inputs.optional(inputs.items(inputs.number(-1e30, 1e30), 2)),
        "markers": inputs.optional(inputs.integer(-2 ** 63, 2 ** 63)),
        "vehicles": inputs.optional(inputs.integer(-2 ** 63, 2 ** 63)),
        "scenario": inputs.optional(inputs.text(200))}, "the wall's state")),
    "layer-pick.value": inputs.one_of(live.LIVE_LAYERS + STATIC, "a map layer"),
    "window-pick.value": inputs.one_of(live.WINDOWS, "a time window"),
    "replay.value": inputs.optional(inputs.integer(0, REPLAY_MINUTES)),
    "wall-lang.data": inputs.lang, "wall-kiosk.data": inputs.optional(inputs.flag),
}
LIVE_KPIS = ("kpi_events_min", "kpi_open_cases", "kpi_overdue", "kpi_sensors_reporting",
             "kpi_cameras_reporting", "kpi_people_hazard")

add_labels({
    "live_window": {"zh": "时间窗", "en": "Window"},
    "stale": {"zh": "数据中断：Redis 无响应，显示的是最后一次数据", "en":
              "Data stale: Redis is not answering; showing the last data received"},
    "kpi_events_min": {"zh": "事件/分钟", "en": "Events/min"},
    "kpi_open_cases": {"zh": "在办案件", "en": "Open cases"},
    "kpi_overdue": {"zh": "超期案件", "en": "Overdue cases"},
    "kpi_sensors_reporting": {"zh": "在线传感器", "en": "Sensors reporting"},
    "kpi_cameras_reporting": {"zh": "在线摄像头", "en": "Cameras reporting"},
    "kpi_people_hazard": {"zh": "危险区内人口", "en": "People in hazard zones"},
    "scenario_on_wall": {"zh": "推演叠加", "en": "Scenario overlay"},
    "alerts_title": {"zh": "最新预警", "en": "Latest alerts"},
    "board_title": {"zh": "部门报到", "en": "Departments reporting in"},
    "board_department": {"zh": "部门", "en": "Department"},
    "board_open": {"zh": "在办", "en": "Open"},
    "board_overdue": {"zh": "超期", "en": "Overdue"},
    "replay": {"zh": "回放（分钟前）", "en": "Replay (minutes ago)"},
    "live_now": {"zh": "实时", "en": "Live"},
    "no_bus": {"zh": "未连接实时数据总线：显示孪生静态图层", "en":
               "No live bus connected: showing the twin's static layers"},
    **{f"layer_{name}": {"zh": zh, "en": en} for name, zh, en in (
        ("iot.count", "物联感知事件", "IoT readings"), ("video.count", "视频事件", "Video events"),
        ("incident.count", "热线与网格上报", "Hotline and grid reports"),
        ("video.person.count", "行人", "People"), ("video.crowd.count", "人群聚集", "Crowds"),
        ("video.illegal_parking.count", "违停", "Illegal parking"),
        ("iot.water_level_m.max", "水位（最高）", "Water level (max)"),
        ("iot.rain_mm_h.mean", "降雨强度", "Rain intensity"),
        ("iot.co_ppm.max", "可燃/有毒气体", "Gas reading (max)"),
        ("iot.pm25.mean", "PM2.5", "PM2.5"))},
})


@lru_cache(maxsize=2)
def _services(bus_id: int):
    """A responsive view of the bus and read-only stores, made once per bus."""
    from layers.loop.alerts import AlertStore
    from layers.loop.cases import CaseStore

    bus = live.responsive(context().bus)
    return bus, CaseStore(bus, None), AlertStore(bus)


def services():
    """(bus, case store, alert store) of the running app, or None without a bus."""
    bus = context().bus
    return None if bus is None else _services(id(bus))


def layout(lang: str = "zh", wall: str | None = None, **_query) -> html.Div:
    lang = lang_of(lang)
    has_bus = context().bus is not None
    choices = ([(v, t(f"layer_{v}", lang)) for v in live.LIVE_LAYERS] if has_bus else []) + \
        [(v, t(f"layer_{v}", lang)) for v in STATIC]
    first = choices[0][0]
    return html.Div(className="page command" + (" wall" if wall else ""), children=[
        header(lang, PATH),
        html.Div(t("stale", lang), id="stale-banner", className="stale-banner", hidden=True),
        html.Div(t("no_bus", lang), className="note") if not has_bus else None,
        html.Div(_tiles(lang, has_bus), className="kpis", id="kpis"),
        html.Div(className="map-controls", children=[
            html.Label(t("map_layer", lang), htmlFor="layer-pick"),
            dcc.Dropdown(id="layer-pick", value=first, clearable=False,
                         options=[{"label": label, "value": v} for v, label in choices]),
            html.Label(t("live_window", lang), htmlFor="window-pick"),
            dcc.Dropdown(id="window-pick", value="1h", clearable=False, disabled=not has_bus,
                         options=[{"label": w, "value": w} for w in live.WINDOWS],
                         style={"minWidth": "6rem"}),
        ]),
        html.Div(className="wall-body", children=[
            html.Div(maps.map_component("command-map", data=initial_map(first, "1h", bool(wall)),
                                      tooltip=True, style={"position": "relative",
                                                           "height": "100%"}),
                     className="map", id="command-map-box"),
            html.Aside(className="side", children=[
                html.H3(t("alerts_title", lang)), html.Ul(id="alert-ticker", className="ticker"),
                html.H3(t("board_title", lang)), html.Div(id="dept-board"),
            ]) if has_bus else None,
        ]),
        html.Div(className="replay", hidden=not has_bus, children=[
            html.Label(t("replay", lang), htmlFor="replay"),
            dmc.Slider(id="replay", min=0, max=REPLAY_MINUTES, step=1, value=0,
                       marks=[{"value": 0, "label": t("live_now", lang)},
                              {"value": 360, "label": "6h"}, {"value": 720, "label": "12h"},
                              {"value": 1440, "label": "24h"}], style={"flex": 1}),
        ]),
        dcc.Store(id="wall-state", data={"version": 0, "scale": None}),
        dcc.Store(id="wall-lang", data=lang),
        dcc.Store(id="wall-kiosk", data=bool(wall)),
        dcc.Interval(id="wall-tick", interval=TICK_MS, disabled=not has_bus),
    ])


def _tiles(lang: str, has_bus: bool) -> list:
    figures = dict(cards.kpis(context().twin))
    if has_bus:
        figures = {"kpi_population": figures["kpi_population"],
                   **{k: None for k in ("kpi_events_min", "kpi_open_cases", "kpi_overdue",
                                        "kpi_sensors_reporting", "kpi_cameras_reporting",
                                        "kpi_people_hazard")}}
    return [html.Div([html.Div("—" if v is None else f"{v:,.0f}", className="kpi-value",
                               id=f"kpi-value-{k}"),
                      html.Div(t(k, lang), className="kpi-label")],
                     className="kpi" + (" alarm" if k == "kpi_overdue" else ""), id=f"kpi-{k}")
            for k, v in figures.items()]


def initial_map(layer: str, window: str, wall: bool = False) -> dict:
    """The map on page load: a static layer, or an empty live layer the first tick fills."""
    twin = context().twin
    height = 1100.0 if wall else 560.0  # the kiosk map is about twice as tall
    if layer in STATIC:
        return maps.deck(twin, [maps.value_layer(twin, layer, log=layer == "population")],
                         height_px=height)
    if layer not in live.LIVE_LAYERS:
        raise ValueError(f"unknown layer {layer!r}: choose one of {live.LIVE_LAYERS + STATIC}")
    empty = live.layer_spec(twin, live.np.zeros(len(twin)), [0.0, 1.0])
    return maps.deck(twin, [empty, live.case_markers([], time.time()), overlay.layer(None),
                            live.vehicle_markers([], time.time())], height_px=height)


def tick(state: dict, layer: str, window: str, replay: int, lang: str = "zh") -> tuple:
    """One wall update: (map patch or None, new state, KPIs, ticker rows, board rows, stale)."""
    svc = services()
    if svc is None or layer in STATIC:
        return None, state, None, None, None, False
    bus, store, alerts = svc
    if not live.alive(bus):
        return None, state, None, None, None, True
    twin, now = context().twin, time.time()
    patch = Patch()
    if replay:
        values = live.replay_values(bus, twin, layer, window, now - 60 * replay)
        scale = live.scale_of(values)
        patch["layers"][1] = live.layer_spec(twin, values, scale)
        state = {"version": 0, "scale": None, "replay": replay}
    else:
        upd = live.update(bus, twin, layer, window, int(state.get("version", 0)),
                          state.get("scale"))
        if upd["full"] is not None:
            patch["layers"][1] = upd["full"]
        for idx, rec in upd["changed"].items():
            patch["layers"][1]["data"][idx] = rec
        state = {"version": upd["version"], "scale": upd["scale"]}
    cases = store.list(open_only=True, limit=500)
    markers = live.case_markers(cases, now)
    signature = hash(tuple((m["id"], tuple(m["color"])) for m in markers["data"]))
    if signature != state.get("markers") or replay:
        patch["layers"][2] = markers
    state["markers"] = signature
    active = overlay.read(bus)
    run = active["run_id"] if active else None
    if run != state.get("scenario") or replay:
        patch["layers"][3] = overlay.layer(active)
    state["scenario"] = run
    vehicles = live.vehicle_markers(TrackGate(bus, twin).last_fixes(), now)
    where = hash(tuple((v["id"], *v["position"]) for v in vehicles["data"]))
    if where != state.get("vehicles") or replay:
        patch["layers"][4] = vehicles
    state["vehicles"] = where
    kpis = live.kpis(bus, twin, store, now)
    kpis["kpi_people_hazard"] = active["people_affected"] if active else 0
    return (patch, state, kpis, alerts.list(limit=8),
            live.department_board(cases, twin.departments, now, lang), False)


@callback(Output("command-map", "data", allow_duplicate=True), Output("wall-state", "data"),
          Output("stale-banner", "hidden"), Output("alert-ticker", "children"),
          Output("dept-board", "children"),
          *[Output(f"kpi-value-{k}", "children") for k in LIVE_KPIS],
          Input("wall-tick", "n_intervals"), State("wall-state", "data"),
          State("layer-pick", "value"), State("window-pick", "value"), State("replay", "value"),
          State("wall-lang", "data"), prevent_initial_call=True,
          # one poll in flight at most: the timer pauses while the server answers, so a slow
          # server makes updates coarser (each carries everything since the last) instead of
          # queueing them
          running=[(Output("wall-tick", "disabled"), True, False)])
def _on_tick(_n, state, layer, window, replay, lang):
    patch, state, kpis, alerts, board, stale = tick(state or {}, layer, window, replay or 0,
                                                    lang)
    if stale:
        return (no_update, no_update, False, no_update, no_update, *[no_update] * len(LIVE_KPIS))
    if patch is None:
        return (no_update, state, True, no_update, no_update, *[no_update] * len(LIVE_KPIS))
    return (patch, state, True, _ticker_view(alerts, lang), _board_view(board, lang),
            *[f"{kpis[k]:,.0f}" for k in LIVE_KPIS])


def _ticker_view(alerts: list[dict], lang: str) -> list:
    return [html.Li([html.Span(row["time"], className="t"), " ",
                     html.Span(row["title"], className=f"sev{row['severity']}")],
                    id=f"alert-{row['id']}") for row in live.ticker(alerts, lang, context().twin.timezone)]


def _board_view(rows: list[dict], lang: str):
    if not rows:
        return html.P(t("none", lang))
    head = html.Tr([html.Th(t(k, lang)) for k in ("board_department", "board_open",
                                                   "board_overdue")])
    body = [html.Tr([html.Td(r["name"]), html.Td(r["open"]),
                     html.Td(r["overdue"], className="late" if r["overdue"] else "")])
            for r in rows[:12]]
    return html.Table([head, *body], className="board")


@callback(Output("command-map", "data"), Output("wall-state", "data", allow_duplicate=True),
          Input("layer-pick", "value"), Input("window-pick", "value"),
          State("wall-kiosk", "data"), prevent_initial_call=True)
def _on_layer(layer: str, window: str, kiosk: bool):
    return initial_map(layer, window, bool(kiosk)), {"version": 0, "scale": None}
