"""Command page: the district map with a live layer, KPIs, alerts, who is late, the day's cases.

`/` is the desk page (navigation, layer pickers, replay); `/?wall=NAME` is a kiosk driven by
`data/walls/NAME.yaml` (`wall=1`: default): no navigation, no pickers, no buttons, type scaled to
the screen, a playlist of views. Both load with the last snapshot's figures; then every 1.5 s
one callback asks `dashboard.wall_view` for what changed (changed cells only, as a Dash `Patch`;
at most one poll in flight); the slower panels refresh every 30 s. A stale banner shows while
Redis does not answer.
"""

from __future__ import annotations

import time
from functools import lru_cache

import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dashboard import cards, inputs, live, maps, overlay, wall_panels, wall_view, walls
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t

PATH = "/"
STATIC = ("population", "elevation_m", "road_capacity", "land_use")
TICK_MS = 1500
SLOW_MS = 30_000
REPLAY_MINUTES = 24 * 60
LIVE_KPIS = ("kpi_events_min", "kpi_open_cases", "kpi_overdue", "kpi_sensors_reporting",
             "kpi_cameras_reporting", "kpi_people_hazard")
DAY_TILES = ("wall_day_opened", "wall_day_resolved", "wall_day_overdue", "wall_day_rate")
DESK_LAYER = "incident.count"
INPUTS = {  # what each input of this page's callbacks may carry (dashboard.inputs)
    "wall-tick.n_intervals": inputs.COUNT, "wall-slow.n_intervals": inputs.COUNT,
    "wall-state.data": inputs.optional(wall_view.STATE),
    "wall-lang.data": inputs.lang,
    "wall-name.data": inputs.optional(inputs.token(r"[a-z0-9_-]{1,40}", "a wall name")),
    "wall-size.data": inputs.optional(inputs.items(inputs.number(0, 100_000), 2)),
    "wall-choice.data": inputs.optional(inputs.mapping({
        "layer": inputs.optional(inputs.one_of(live.LIVE_LAYERS, "a live layer")),
        "window": inputs.optional(inputs.one_of(live.WINDOWS, "a time window")),
        "replay": inputs.optional(inputs.integer(0, REPLAY_MINUTES))}, "the wall's choice")),
    "layer-pick.value": inputs.one_of(live.LIVE_LAYERS, "a live layer"),
    "window-pick.value": inputs.one_of(live.WINDOWS, "a time window"),
    "replay.value": inputs.optional(inputs.integer(0, REPLAY_MINUTES)),
    "static-layer-pick.value": inputs.one_of(STATIC, "a map layer"),
}

add_labels({
    "live_window": {"zh": "时间窗", "en": "Window"},
    "stale": {"zh": "数据中断：Redis 无响应，显示的是最后一次数据", "en":
              "Data stale: Redis is not answering; showing the last data received"},
    "kpi_events_min": {"zh": "事件/分钟", "en": "Events/min"},
    "kpi_open_cases": {"zh": "在办案件", "en": "Open cases"},
    "kpi_overdue": {"zh": "超期案件", "en": "Overdue cases"},
    "kpi_sensors_reporting": {"zh": "在线传感器", "en": "Sensors reporting"},
    "kpi_cameras_reporting": {"zh": "在线摄像头", "en": "Cameras reporting"},
    "kpi_people_hazard": {"zh": "推演危险区内人口", "en": "People in what-if hazard zones"},
    "alerts_title": {"zh": "最新预警（按严重程度）", "en": "Latest alerts, most severe first"},
    "board_title": {"zh": "部门报到", "en": "Departments reporting in"},
    "board_department": {"zh": "部门", "en": "Department"},
    "board_open": {"zh": "在办", "en": "Open"},
    "board_overdue": {"zh": "超期", "en": "Overdue"},
    "replay": {"zh": "回放（分钟前）", "en": "Replay (minutes ago)"},
    "live_now": {"zh": "实时", "en": "Live"},
    "no_bus": {"zh": "未连接实时数据总线：显示孪生静态图层", "en":
               "No live bus connected: showing the twin's static layers"},
    "wall_events_title": {"zh": "各渠道事件/分钟（近24小时）", "en":
                          "Events per minute by channel, last 24 h"},
    "wall_day_title": {"zh": "今日案件", "en": "Cases today"},
    "wall_units_title": {"zh": "各街镇在办与超期案件", "en": "Open and overdue cases by street/town"},
    "wall_district": {"zh": "全区", "en": "Whole district"},
    "wall_whatif": {"zh": "推演结果（非实时数据）：{}", "en": "What-if result, not live data: {}"},
    "wall_whatif_ran": {"zh": "{} 运行，{} 上墙", "en": "run {}, put on the wall by {}"},
    "wall_whatif_legend": {"zh": "推演危险等级 1–4", "en": "What-if hazard class 1–4"},
    "wall_error": {"zh": "大屏配置有误：{}", "en": "Wall configuration error: {}"},
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
def _services(bus_id: int) -> wall_view.Services:
    """A responsive view of the bus and read-only stores, made once per bus."""
    from layers.loop.alerts import AlertStore
    from layers.loop.cases import CaseStore

    bus = live.responsive(context().bus)
    return wall_view.Services(bus, CaseStore(bus, None), AlertStore(bus))


def services() -> wall_view.Services | None:
    """The running app's wall services, or None without a bus."""
    bus = context().bus
    return None if bus is None else _services(id(bus))


def _config(name: str | None) -> walls.WallConfig | None:
    return walls.load(name) if name else None


# -- layout ------------------------------------------------------------------------------------
def layout(lang: str = "zh", wall: str | None = None, **_query) -> html.Div:
    lang = lang_of(lang)
    try:
        name = walls.wall_name(wall)
        config = _config(name)
    except walls.WallError as exc:
        return html.Div(dmc.Alert(t("wall_error", lang).format(exc), color="red",
                                  id="wall-error"), className="page command")
    svc = services()
    if svc is None:
        return _static_page(lang)
    layer = config.layer if config else DESK_LAYER
    window = config.window if config else "1h"
    shown = _initial(svc, config, layer, window, lang)
    body = _kiosk(shown, config, lang) if config else _desk(shown, layer, window, lang)
    return html.Div(className="page command" + (" kiosk" if config else ""), children=[
        *body,
        dcc.Store(id="wall-state", data=shown.state if shown else {"version": 0}),
        dcc.Store(id="wall-lang", data=lang), dcc.Store(id="wall-name", data=name),
        dcc.Store(id="wall-size"),
        dcc.Store(id="wall-choice", data={"layer": layer, "window": window, "replay": 0}),
        dcc.Interval(id="wall-tick", interval=TICK_MS),
        dcc.Interval(id="wall-slow", interval=SLOW_MS)])


def _initial(svc, config, layer: str, window: str, lang: str) -> wall_view.Shown | None:
    if not live.alive(svc.bus):
        return None
    return wall_view.initial(svc, context().twin, config, layer, window, lang)


def _static_page(lang: str) -> html.Div:
    """Without a bus: the twin's figures and static layers only."""
    twin = context().twin
    choices = [{"label": t(f"layer_{v}", lang), "value": v} for v in STATIC]
    return html.Div(className="page command", children=[
        header(lang, PATH), html.Div(t("no_bus", lang), className="note"),
        html.Div(_tiles(cards.kpis(twin), lang), className="kpis", id="kpis"),
        html.Div(className="map-controls", children=[
            dmc.Select(id="static-layer-pick", label=t("map_layer", lang), value=STATIC[0],
                       allowDeselect=False, w=240, data=choices)]),
        html.Div(maps.map_component("command-map", data=static_map(STATIC[0]), tooltip=True),
                 className="map", id="command-map-box")])


def static_map(layer: str) -> dict:
    twin = context().twin
    return maps.deck(twin, [maps.value_layer(twin, layer, log=layer == "population")])


def _tiles(figures: dict, lang: str, ids: str = "kpi") -> list:
    return [html.Div([html.Div(wall_panels.number(v), className="kpi-value", id=f"{ids}-value-{k}"),
                      html.Div(t(k, lang), className="kpi-label")],
                     className="kpi" + (" alarm" if "overdue" in k else ""), id=f"{ids}-{k}")
            for k, v in figures.items()]


def _live_tiles(shown, lang: str) -> list:
    figures = {k: (shown.kpis.get(k) if shown else None) for k in LIVE_KPIS}
    return _tiles({"kpi_population": context().twin.population_total, **figures}, lang)


def _map_box(shown, config, lang: str) -> html.Div:
    deck = shown.deck if shown else maps.deck(context().twin, [])
    return html.Div(className="map", id="command-map-box", children=[
        maps.map_component("command-map", data=deck, tooltip=True),
        html.Div(legend_view(shown.legend if shown else None, lang,
                             shown.whatif if shown else None), id="wall-legend",
                 className="legend"),
        html.Div(t("stale", lang), id="stale-banner", className="stale-banner", hidden=True)])


def _side(shown, lang: str, rows: int) -> list:
    return [html.Section(className="wall-day", children=[
                html.H3(t("wall_day_title", lang)),
                html.Div(_tiles({k: None for k in DAY_TILES}, lang, "day"), className="day-tiles")]),
            html.Section(className="wall-ticker", children=[
                html.H3(t("alerts_title", lang)),
                html.Ul(ticker_view(shown.ticker[:rows] if shown else [], lang),
                        id="alert-ticker", className="ticker")]),
            html.Section(className="wall-board", children=[
                html.H3(t("board_title", lang)),
                html.Div(board_view(shown.board if shown else [], lang, rows), id="dept-board")])]


def _charts(lang: str, config) -> list:
    graph = {"config": {"displayModeBar": False, "responsive": True},
             "style": {"height": "100%", "width": "100%"}}
    return [html.Section(className="wall-events", children=[
                html.H3(t("wall_events_title", lang)),
                html.Div(dcc.Graph(id="wall-events", **graph), className="graph-box")]),
            html.Section(className="wall-units", children=[
                html.H3(t("wall_units_title", lang)),
                html.Div(dcc.Graph(id="wall-choropleth", **graph), className="graph-box"),
                html.P(t("wall_choropleth_note", lang), className="note")])]


def _kiosk(shown, config: walls.WallConfig, lang: str) -> list:
    hide = {p: ({} if config.shows(p) else {"display": "none"}) for p in walls.PANELS}
    side = _side(shown, lang, 6)
    for section, panel in zip(side, ("day", "ticker", "board"), strict=True):
        section.style = hide[panel]
    charts = _charts(lang, config)
    for section, panel in zip(charts, ("events", "choropleth"), strict=True):
        section.style = hide[panel]
    return [html.Header(className="wall-title", children=[
                html.H1(config.title.get(lang) or t("app_title", lang)),
                html.Span(_view_name(shown, lang), id="wall-view-title", className="view-title"),
                html.Span(wall_panels.clock_now(time.time(), context().twin.timezone),
                          id="wall-clock", className="clock")]),
            html.Div(_live_tiles(shown, lang), className="kpis", id="kpis", style=hide["kpis"]),
            _map_box(shown, config, lang),
            html.Aside(side, className="wall-side"),
            html.Div(charts, className="wall-charts")]


def _desk(shown, layer: str, window: str, lang: str) -> list:
    choices = [(v, t(f"layer_{v}", lang)) for v in live.LIVE_LAYERS]
    return [header(lang, PATH),
            html.Div(_live_tiles(shown, lang), className="kpis", id="kpis"),
            html.Div(className="map-controls", children=[
                dmc.Select(id="layer-pick", label=t("map_layer", lang), value=layer,
                           allowDeselect=False, w=240,
                           data=[{"label": label, "value": v} for v, label in choices]),
                dmc.Select(id="window-pick", label=t("live_window", lang), value=window,
                           allowDeselect=False, w=140,
                           data=[{"label": t(f"wall_w_{w}", lang), "value": w}
                                 for w in live.WINDOWS]),
                html.Span(_view_name(shown, lang), id="wall-view-title", className="view-title"),
                html.Span(id="wall-clock", className="clock")]),
            html.Div(className="wall-body", children=[
                _map_box(shown, None, lang),
                html.Aside(_side(shown, lang, 8), className="side", tabIndex="0")]),
            html.Div(_charts(lang, None), className="desk-charts"),
            html.Div(className="replay", children=[
                html.Label(t("replay", lang), htmlFor="replay"),
                dmc.Slider(id="replay", min=0, max=REPLAY_MINUTES, step=1, value=0,
                           thumbLabel=t("replay", lang),
                           marks=[{"value": 0, "label": t("live_now", lang)},
                                  {"value": 360, "label": "6h"}, {"value": 720, "label": "12h"},
                                  {"value": 1440, "label": "24h"}], style={"flex": 1})])]


def _view_name(shown, lang: str) -> str:
    return (shown.title if shown and shown.title else t("wall_district", lang))


# -- components -----------------------------------------------------------------------------
def ticker_view(rows: list[dict], lang: str) -> list:
    """Ticker lines: severity, category, place, age and time (city time)."""
    return [html.Li(id=f"alert-{r['id']}", className=f"sev{r['severity']}", children=[
        html.Span(r["severity_text"], className="sev"), " ",
        html.B(r["category"], className="cat"), " ",
        html.Span(r["place"], className="place"), " ",
        html.Span(f"{r['time']} · {r['age']}", className="t")]) for r in rows]


def board_view(rows: list[dict], lang: str, limit: int):
    if not rows:
        return html.P(t("none", lang))
    head = html.Tr([html.Th(t(k, lang)) for k in ("board_department", "board_open",
                                                   "board_overdue")])
    body = [html.Tr([html.Td(r["name"]), html.Td(r["open"]),
                     html.Td(r["overdue"], className="late" if r["overdue"] else "")])
            for r in rows[:limit]]
    return html.Table([html.Thead(head), html.Tbody(body)], className="board")


def legend_view(legend: dict | None, lang: str, whatif: dict | None = None) -> list:
    """The map legend: the live layer's ramp with its values and unit, the case markers, and
    the what-if's classes (labelled as a what-if) when one is on the wall."""
    if legend is None:
        return []
    ramp = ", ".join(f"rgb({s['rgb'][0]},{s['rgb'][1]},{s['rgb'][2]})" for s in legend["stops"])
    out = [html.Div(legend["title"], className="legend-title"),
           html.Div(className="legend-ramp", style={"background": f"linear-gradient(to right, "
                                                                  f"{ramp})"}),
           html.Div(className="legend-scale", children=[
               html.Span(wall_panels.number(legend["low"])),
               html.Span(f"{wall_panels.number(legend['high'])} {legend['unit']}")]),
           html.Div(legend["note"], className="legend-note"),
           html.Div(className="legend-cases", children=[
               html.Span(className="dot open"), t("wall_legend_open", lang), " ",
               html.Span(className="dot late"), t("wall_legend_late", lang)])]
    if whatif:
        ran = t("wall_whatif_ran", lang).format(whatif["ran_at"], whatif["ran_by"]) \
            if whatif["ran_at"] else ""
        out += [html.Div(className="legend-whatif", id="wall-whatif", children=[
            html.B(t("wall_whatif", lang).format(whatif["name"])), html.Br(), ran,
            html.Div(className="legend-classes", children=[
                html.Span(className="cls", style={"background": f"rgba({c[0]},{c[1]},{c[2]},1)"})
                for c in overlay.SEVERITY_COLORS]), t("wall_whatif_legend", lang)])]
    return out


# -- callbacks --------------------------------------------------------------------------------
clientside_callback(
    """function(lang) {
        const box = document.getElementById('command-map-box');
        return box ? [box.clientWidth, box.clientHeight] : null;
    }""", Output("wall-size", "data"), Input("wall-lang", "data"))


@callback(Output("command-map", "data", allow_duplicate=True), Output("wall-state", "data"),
          Output("stale-banner", "hidden"), Output("alert-ticker", "children"),
          Output("dept-board", "children"), Output("wall-legend", "children"),
          Output("wall-view-title", "children"), Output("wall-clock", "children"),
          *[Output(f"kpi-value-{k}", "children") for k in LIVE_KPIS],
          Input("wall-tick", "n_intervals"), State("wall-state", "data"),
          State("wall-lang", "data"), State("wall-name", "data"), State("wall-size", "data"),
          State("wall-choice", "data"), prevent_initial_call=True,
          # one poll in flight at most: the timer pauses while the server answers, so a slow
          # server makes updates coarser (each carries everything since the last) instead of
          # queueing them
          running=[(Output("wall-tick", "disabled"), True, False)])
def _on_tick(_n, state, lang, name, size, choice):
    return tick_outputs(state or {}, lang, name, size, choice or {})


def tick_outputs(state: dict, lang: str, name: str | None, size, choice: dict) -> tuple:
    """The tick callback's outputs (no_update where nothing is to change)."""
    svc, twin = services(), context().twin
    config = _config(name)
    rest = 5 + len(LIVE_KPIS)
    if svc is None:
        return (no_update, no_update, True, *[no_update] * rest)
    if not live.alive(svc.bus):
        return (no_update, no_update, False, *[no_update] * rest)
    layer = choice.get("layer") or (config.layer if config else DESK_LAYER)
    window = choice.get("window") or (config.window if config else "1h")
    shown = wall_view.tick(svc, twin, config, state, layer, window, lang, size,
                           int(choice.get("replay") or 0))
    rows = 6 if config else 8
    return (shown.patch, shown.state, True, ticker_view(shown.ticker[:rows], lang),
            board_view(shown.board, lang, rows), legend_view(shown.legend, lang, shown.whatif),
            _view_name(shown, lang), wall_panels.clock_now(time.time(), twin.timezone),
            *[wall_panels.number(shown.kpis[k]) for k in LIVE_KPIS])


@callback(Output("wall-events", "figure"), Output("wall-choropleth", "figure"),
          *[Output(f"day-value-{k}", "children") for k in DAY_TILES],
          Input("wall-slow", "n_intervals"), State("wall-lang", "data"),
          State("wall-name", "data"))
def _on_slow(_n, lang, name):
    svc = services()
    if svc is None or not live.alive(svc.bus):
        return (no_update,) * (2 + len(DAY_TILES))
    panels = wall_view.slow_panels(svc, context().twin, lang, _config(name))
    day = panels["day"]
    return (panels["events"], panels["choropleth"],
            *[wall_panels.number(day[k]) + ("%" if k == "wall_day_rate" and day[k] is not None
                                            else "") for k in DAY_TILES])


@callback(Output("wall-choice", "data"), Input("layer-pick", "value"),
          Input("window-pick", "value"), Input("replay", "value"), prevent_initial_call=True)
def _on_choice(layer: str, window: str, replay: int):
    return {"layer": layer, "window": window, "replay": replay or 0}


@callback(Output("command-map", "data", allow_duplicate=True),
          Input("static-layer-pick", "value"), prevent_initial_call=True)
def _on_static_layer(layer: str):
    return static_map(layer)
