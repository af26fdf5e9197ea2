"""Grid page: pick a street/town and a grid; the card shows residents and what is in it, the
grid's open cases with the actions the grid manager may do (accept, on scene, resolve), the
live side (sensor sparklines, cameras, the last hour's events) and, on a map click, one cell's card.

A grid manager only gets their own grids in the pickers, and every callback refuses (403) any
other grid or case, also when called directly on the callback endpoint. Laid out for a phone too.
"""

from __future__ import annotations

import time

import dash_mantine_components as dmc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import redis
from dash import (
    ALL,
    MATCH,
    Input,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from dashboard import cards, inputs, maps, media
from dashboard import case_view as cv
from dashboard import grid_cases as gc
from dashboard import grid_view as gv
from dashboard.context import city_timezone, context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t
from dashboard.policy import can_see_grid, visible_grids
from dashboard.session import current_user, require

PATH = "/grid"
INPUTS = {  # what each input of this page's callbacks may carry (dashboard.inputs)
    "unit-pick.value": inputs.optional(lambda value, name: inputs.unit(
        int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10
        else value, name)),
    "grid-pick.value": inputs.optional(inputs.grid),
    "grid-lang.data": inputs.lang, "grid-version.data": inputs.COUNT,
    "grid-tick.n_intervals": inputs.COUNT, "grid-act.n_clicks": inputs.COUNT,
    "grid-note.value": inputs.optional(inputs.text()),
    "grid-photo.contents": inputs.optional(inputs.text(media.MAX_UPLOAD_CHARS)),
    "grid-photo.filename": inputs.optional(inputs.text(255)),
    "grid-map.clickInfo": inputs.optional(inputs.click_info),
    "grid-map-size.data": inputs.optional(inputs.items(inputs.number(0, 100_000), 2)),
}

add_labels({
    "grid_cases": {"zh": "本网格在办案件", "en": "Open cases in this grid"},
    "grid_case_near": {"zh": "邻近 {}（{} 米）", "en": "near {} ({} m)"},
    "grid_case_opened": {"zh": "{} 立案", "en": "opened {}"},
    "no_grids": {"zh": "您没有可查看的网格", "en": "You have no grid to look at"},
    "gridx_sensors": {"zh": "传感器近1小时读数", "en": "Sensors, last hour"},
    "gridx_cameras": {"zh": "视频监控（近1小时识别）", "en": "Cameras (detections, last hour)"},
    "gridx_events": {"zh": "近1小时事件", "en": "Events, last hour"},
    "gridx_incidents": {"zh": "上报事件类别", "en": "Reports by category"},
    "gridx_video": {"zh": "视频识别", "en": "Video detections"},
    "gridx_latest": {"zh": "最新上报", "en": "Latest reports"},
    "gridx_no_bus": {"zh": "未连接事件总线：实时数据需要 Redis（cityops serve/demo）",
                     "en": "No event bus: live data needs Redis (cityops serve/demo)"},
    "gridx_bus_down": {"zh": "事件总线暂无响应，稍后自动重试",
                       "en": "The event bus does not answer; retrying shortly"},
    "gridx_no_sensors": {"zh": "本网格无传感器", "en": "No sensor in this grid"},
    "gridx_no_cameras": {"zh": "本网格无摄像头", "en": "No camera in this grid"},
    "gridx_no_events": {"zh": "近1小时无事件", "en": "No events in the last hour"},
    "gridx_no_reading": {"zh": "暂无读数", "en": "no reading"},
    "gridx_no_detections": {"zh": "无识别", "en": "nothing detected"},
    "gridx_cell_title": {"zh": "单元格详情", "en": "Cell"},
    "gridx_cell_hint": {"zh": "点击地图上的单元格查看详情", "en": "Click a cell on the map to see it"},
    "gridx_hex": {"zh": "H3 编号", "en": "H3 cell"},
    "gridx_land_use": {"zh": "用地类型", "en": "Land use"},
    "gridx_elevation": {"zh": "高程 (m)", "en": "Elevation (m)"},
    "gridx_unit": {"zh": "街镇", "en": "Street / town"},
    "gridx_grid": {"zh": "网格", "en": "Grid"},
    "gridx_live_values": {"zh": "实时图层（非零）", "en": "Live layers (non-zero)"},
    "gridx_no_live": {"zh": "暂无实时数据", "en": "No live values"},
    "gridx_layer": {"zh": "图层", "en": "Layer"},
    "gridx_value": {"zh": "数值", "en": "Value"},
})


def _unit_of(grid: int) -> int:
    grids = context().twin.grids
    return int(grids.loc[grids["grid"] == grid, "unit"].iloc[0])


def _grid_options(unit: int | None) -> list[dict]:
    return cv.restrict_options(cards.grid_options(context().twin, unit),
                               visible_grids(current_user()))


def _unit_options(lang: str) -> list[dict]:
    twin, grids = context().twin, visible_grids(current_user())
    units = None if grids is None else {int(u) for g, u in zip(
        twin.grids["grid"], twin.grids["unit"], strict=True) if int(g) in grids}
    return cv.restrict_options(cards.unit_options(twin, lang), units)


def picked(value) -> int | None:
    """A picker's value as a grid number (None when nothing or no number is picked)."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _select(options: list[dict]) -> list[dict]:
    """Dropdown options as Mantine Select data (string values)."""
    return [{"label": o["label"], "value": str(o["value"])} for o in options]


def chosen_grid(grid: str | None) -> int | None:
    """The grid asked for when the user may see it, else their grid with open cases (most
    overdue first), else the first grid they may see."""
    user = current_user()
    options = _grid_options(None)  # the grids of this city the user may see
    if grid is not None and str(grid).isdigit() and len(str(grid)) < 10 \
            and int(grid) in {int(o["value"]) for o in options}:
        return int(grid)
    store = cv.case_store()
    if store is not None:
        busiest = gc.busiest_grid(context().twin, store.open_points(), user, time.time())
        if busiest is not None:
            return busiest
    return int(options[0]["value"]) if options else None


def layout(lang: str = "zh", grid: str | None = None, **_query) -> html.Div:
    lang = lang_of(lang)
    chosen = chosen_grid(grid)
    if chosen is None:
        return html.Div([header(lang, PATH), dmc.Alert(t("no_grids", lang), color="yellow")],
                         className="page grid")
    unit = _unit_of(chosen)
    return html.Div(className="page grid", children=[
        header(lang, PATH),
        dcc.Store(id="grid-lang", data=lang), dcc.Store(id="grid-version", data=0),
        dcc.Interval(id="grid-tick", interval=30_000),
        html.Div(className="pickers", children=[
            dmc.Select(id="unit-pick", label=t("pick_unit", lang), data=_select(
                _unit_options(lang)), value=str(unit), allowDeselect=False, searchable=True),
            dmc.Select(id="grid-pick", label=t("pick_grid", lang), data=_select(
                _grid_options(unit)), value=str(chosen), allowDeselect=False, searchable=True),
        ]),
        dcc.Store(id="grid-map-size"),
        html.Div(className="grid-body", children=[
            html.Section(className="card grid-cases", children=[
                html.H3(t("grid_cases", lang)), html.Div(id="grid-feedback"),
                html.Div(id="grid-cases")]),
            html.Div(maps.map_component("grid-map", data=grid_map(chosen), tooltip=True,
                                      enableEvents=["click"],
                                      style={"position": "relative", "height": "100%"}),
                     className="map small", id="grid-map-box"),
            html.Div(id="grid-card", className="card", children=card_view(chosen, lang)),
            html.Section(className="card gridx-cell", children=[
                html.H3(t("gridx_cell_title", lang)),
                html.Div(id="gridx-cell", children=cell_hint(lang))]),
            html.Section(id="gridx-live", className="card gridx-live"),
        ]),
    ])


def card_view(grid: int | None, lang: str) -> list:
    """The card's children for a grid (labels in `lang`)."""
    if grid is None:
        return [html.P(t("none", lang))]
    card = cards.grid_card(context().twin, grid)

    def row(key: str, value) -> html.Tr:
        return html.Tr([html.Th(t(key, lang)), html.Td(value, id=f"card-{key}")])

    listing = {k: ", ".join(card[k]) or t("none", lang)
               for k in ("card_facilities", "card_sensors", "card_cameras")}
    return [html.H2(card["id"]), html.Table([
        row("card_manager", card["manager"]),
        row("card_residents", f"{card['card_residents']:,.0f}"),
        row("card_cells", card["card_cells"]),
        row("card_area", f"{card['card_area']:.2f}"),
        *[row(k, v) for k, v in listing.items()]])]


def grid_map(grid: int | None, size: list | None = None) -> dict:
    """The grid's cells coloured by residents over the basemap, framed to fit the map's size
    (the browser's, once it has said), with the open cases' markers layer after them."""
    twin = context().twin
    if grid is None:
        return maps.deck(twin, [])
    cells = np.flatnonzero(twin.ds["grid"].values == grid)
    pop = twin.ds["population"].values[cells]
    layer = {"@@type": "H3HexagonLayer", "id": "grid-cells", "getHexagon": "@@=hex",
             "getFillColor": "@@=c", "pickable": True, "stroked": False,
             "data": maps.hexagon_records(twin.cell_ids[cells], pop, maps.colors(pop))}
    width, height = size if size else (None, 560.0)
    return maps.deck(twin, [layer, gc.markers([])], focus=cells, height_px=height,
                     width_px=width)


def case_cards(grid: int, lang: str) -> tuple[list, list[dict]]:
    """The grid's open cases as cards (what, where, when, the citizen's words on top, the
    user's actions) and the cards' data for the map's markers."""
    store, user = cv.case_store(), current_user()
    if store is None:
        return [html.P(t("cases_no_bus", lang), className="muted")], []
    from layers.loop.alerts import AlertStore

    twin, now = context().twin, time.time()
    cases = {c.id: c for c in cv.open_cases_of_grid(store, user, grid)}
    if not cases:
        return [html.P(t("cases_none", lang), className="muted", id="grid-no-cases")], []
    data = gc.case_cards(twin, list(cases.values()), AlertStore(store.bus), now, lang)
    return [case_card(card, cases[card["id"]], user, lang) for card in data], data


def case_card(card: dict, case, user, lang: str) -> html.Div:
    facility = card["facility"]
    near = (t("grid_case_near", lang).format(facility["name"], f"{facility['m']:,.0f}")
            if facility else "")
    return html.Div(className="case-card" + (" overdue" if card["overdue"] else ""),
                    id=f"grid-case-{card['id']}", children=[
        html.Blockquote(card["text"], className="citizen-text verbatim", lang="zh")
        if card["text"] else None,
        html.Div([html.B(card["what"]), " ", html.Span(card["title"], className="muted"),
                  html.Span(f" · {card['id']}", className="muted")], className="case-title"),
        html.Div([card["unit"], " · ", card["grid"], *([" · ", near] if near else [])],
                 className="case-where"),
        html.Div([html.Time(t("grid_case_opened", lang).format(card["opened"]),
                            dateTime=card["opened_iso"]), " · ",
                  html.Span(card["countdown"], className="countdown")], className="case-when"),
        dmc.Group([cv.status_badge(card["status"], lang, card["overdue"])], gap="xs"),
        cv.action_panel(case, user, lang, "grid")])


def cell_hint(lang: str) -> html.P:
    return html.P(t("gridx_cell_hint", lang), className="muted", id="gridx-cell-hint")


def _muted(key: str, lang: str, **kw) -> html.P:
    return html.P(t(key, lang), className="muted", **kw)


def _number(value: float | None, lang: str) -> str:
    return t("gridx_no_reading", lang) if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def spark_figure(line: dict) -> go.Figure:
    """A sensor's last hour as a bare line (Beijing time on hover)."""
    times = pd.to_datetime(line["times"], unit="s", utc=True).tz_convert(city_timezone())
    fig = go.Figure(go.Scatter(x=times, y=line["values"], mode="lines+markers",
                               line={"width": 1.5, "color": "#f5c542"}, marker={"size": 3},
                               connectgaps=True, hovertemplate="%{x|%H:%M} %{y}<extra></extra>"))
    fig.update_layout(height=46, margin={"l": 0, "r": 0, "t": 2, "b": 2}, showlegend=False,
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      xaxis={"visible": False, "range": [times[0], times[-1]]} if len(times)
                      else {"visible": False}, yaxis={"visible": False})
    return fig


def sensors_view(lines: list[dict], lang: str) -> list:
    if not lines:
        return [_muted("gridx_no_sensors", lang)]
    return [html.Div(className="gridx-spark", id=f"gridx-spark-{line['id']}", children=[
        html.Div([html.B(line["id"]), html.Span(gv.metric_label(line["metric"], lang),
                                                className="muted"),
                  html.Span(_number(line["last"], lang), className="gridx-last")],
                 className="gridx-spark-head"),
        dcc.Graph(figure=spark_figure(line), config={"displayModeBar": False},
                  className="gridx-spark-graph")]) for line in lines]


def cameras_view(cams: list[dict], lang: str) -> list:
    if not cams:
        return [_muted("gridx_no_cameras", lang)]
    return [html.Table(className="gridx-table", children=[html.Tbody([html.Tr([
        html.Td([html.B(c.id), html.Div(gv.camera_kind(c.kind, lang), className="muted")]),
        html.Td(" · ".join(f"{gv.video_label(k, lang)} {n}" for k, n in c.counts.items())
                or t("gridx_no_detections", lang))]) for c in cams])])]


def bars(counts: dict[str, int], label, row_id: str) -> html.Table:
    """Counts as a table with a bar in each row, scaled to the largest."""
    top = max(counts.values(), default=1)
    return html.Table(className="gridx-table gridx-bars", id=row_id, children=[html.Tbody([
        html.Tr([html.Td(label(k)), html.Td(str(n), className="gridx-n"),
                 html.Td(html.Div(className="gridx-bar", style={"width": f"{100 * n / top:.0f}%"}),
                         className="gridx-bar-cell")]) for k, n in counts.items()])])


def events_view(counts: dict, latest: list[dict], lang: str) -> list:
    if not counts["incident"] and not counts["video"]:
        return [_muted("gridx_no_events", lang, id="gridx-no-events")]
    out = []
    if counts["incident"]:
        out += [html.H4(t("gridx_incidents", lang)),
                bars(counts["incident"], lambda k: gv.category_label(k, lang), "gridx-incidents")]
    if counts["video"]:
        out += [html.H4(t("gridx_video", lang)),
                bars(counts["video"], lambda k: gv.video_label(k, lang), "gridx-video")]
    if latest:
        out += [html.H4(t("gridx_latest", lang)), html.Ul(className="gridx-latest", children=[
            html.Li([html.Span(cv.clock_text(r["ts"]), className="muted"), " ",
                     html.B(gv.category_label(r["category"], lang)), " ",
                     html.Span(r["text"], className="verbatim")])  # the reporter's words
            for r in latest])]
    return out


def live_view(grid: int, lang: str) -> list:
    """The grid's live sections: sensor sparklines, cameras and the last hour's events."""
    bus, twin, user = context().bus, context().twin, current_user()
    if bus is None:
        return [_muted("gridx_no_bus", lang, id="gridx-no-bus")]
    now = time.time()
    try:
        lines = gv.sparklines(bus, twin, user, grid, now)
        cams = gv.cameras(bus, twin, user, grid)
        counts = gv.recent_counts(bus, twin, user, grid)
        latest = gv.latest_incidents(bus, twin, user, grid, now)
    except (redis.RedisError, OSError):
        return [_muted("gridx_bus_down", lang)]
    return [html.Div([html.H3(t("gridx_sensors", lang)), *sensors_view(lines, lang)],
                     className="gridx-part"),
            html.Div([html.H3(t("gridx_cameras", lang)), *cameras_view(cams, lang)],
                     className="gridx-part"),
            html.Div([html.H3(t("gridx_events", lang)), *events_view(counts, latest, lang)],
                     className="gridx-part", id="gridx-events")]


def cell_view(card: dict, lang: str) -> list:
    """A clicked cell's card: what it is, what is in it, its non-zero live values."""
    def row(key: str, value) -> html.Tr:
        return html.Tr([html.Th(t(key, lang)), html.Td(value)])

    listing = [row(k, ", ".join(card[f]) or t("none", lang)) for k, f in (
        ("card_facilities", "facilities"), ("card_sensors", "sensors"),
        ("card_cameras", "cameras"))]
    table = html.Table(className="gridx-table", children=[html.Tbody([
        row("gridx_hex", html.Code(card["hex"], id="gridx-cell-hex")),
        row("card_residents", f"{card['residents']:,.0f}"),
        row("gridx_land_use", t(f"gridx_lu_{card['land_use']}", lang)),
        row("gridx_elevation", f"{card['elevation_m']:.1f}"),
        row("gridx_unit", card["unit_name"] or t("none", lang)),
        row("gridx_grid", card["grid_id"] or t("none", lang)), *listing])])
    if card["live"] is None:
        live = [_muted("gridx_no_bus", lang)]
    elif not card["live"]:
        live = [_muted("gridx_no_live", lang)]
    else:
        live = [html.Table(className="gridx-table", id="gridx-cell-live", children=[
            html.Thead(html.Tr([html.Th(t("gridx_layer", lang)), html.Th(t("gridx_value", lang))])),
            html.Tbody([html.Tr([html.Td(f"{gv.layer_label(v['layer'], lang)} · "
                                         f"{t('gridx_w_' + v['window'], lang)}"),
                                 html.Td(_number(v["value"], lang), className="gridx-n")])
                        for v in card["live"]])])]
    return [table, html.H4(t("gridx_live_values", lang)), *live]


@callback(Output("grid-pick", "data"), Output("grid-pick", "value"),
          Input("unit-pick", "value"), prevent_initial_call=True)
def _on_unit(unit: str | None):
    if picked(unit) is None:
        return no_update, no_update
    options = _select(_grid_options(picked(unit)))
    return options, (options[0]["value"] if options else None)


@callback(Output("grid-card", "children"), Output("grid-map", "data"),
          Input("grid-pick", "value"), Input("grid-map-size", "data"), State("grid-lang", "data"),
          prevent_initial_call=True)
def _on_grid(grid: str | int, size, lang: str):
    grid = picked(grid)
    require(can_see_grid(current_user(), grid), f"grid {grid}")
    deck = grid_map(grid, size)
    deck["layers"][2] = gc.markers(case_cards(grid, lang)[1])
    return card_view(grid, lang), deck


clientside_callback(
    """function(lang) {
        const box = document.getElementById('grid-map-box');
        return box ? [box.clientWidth, box.clientHeight] : null;
    }""", Output("grid-map-size", "data"), Input("grid-lang", "data"))


@callback(Output("grid-cases", "children"), Output("grid-map", "data", allow_duplicate=True),
          Input("grid-pick", "value"), Input("grid-version", "data"),
          Input("grid-tick", "n_intervals"), State("grid-lang", "data"),
          State({"type": "grid-note", "case": ALL}, "value"),
          State({"type": "grid-photo", "case": ALL}, "filename"),
          prevent_initial_call="initial_duplicate")
def _on_cases(grid: str | int | None, _version, _tick, lang: str, notes=None, photos=None):
    grid = picked(grid)
    if grid is None:
        return [], no_update
    if cv.input_pending(ctx.triggered_id == "grid-tick", notes, photos):
        return no_update, no_update
    cards_, data = case_cards(grid, lang)
    patch = Patch()
    patch["layers"][2] = gc.markers(data)
    return cards_, patch


@callback(Output("grid-version", "data"), Output("grid-feedback", "children"),
          Input({"type": "grid-act", "action": ALL, "case": ALL}, "n_clicks"),
          State({"type": "grid-note", "case": ALL}, "value"),
          State({"type": "grid-photo", "case": ALL}, "contents"), State("grid-version", "data"),
          State("grid-lang", "data"), prevent_initial_call=True)
def _on_act(_clicks, _notes, _photos, version, lang):
    return cv.act_and_report(ctx.triggered_id, ctx.triggered[0]["value"], ctx.states_list[0],
                             current_user(), version, lang, ctx.states_list[1])


@callback(Output({"type": "grid-photo", "case": MATCH}, "children"),
          Input({"type": "grid-photo", "case": MATCH}, "filename"), State("grid-lang", "data"),
          prevent_initial_call=True)
def _on_photo(filename, lang):
    return html.Div(cv.photo_label(filename, lang))


@callback(Output("gridx-live", "children"), Input("grid-pick", "value"),
          Input("grid-tick", "n_intervals"), State("grid-lang", "data"))
def _on_live(grid: str | int | None, _tick, lang: str):
    grid = picked(grid)
    if grid is None:
        return []
    require(can_see_grid(current_user(), grid), f"grid {grid}")
    return live_view(grid, lang)


@callback(Output("gridx-cell", "children"), Input("grid-map", "clickInfo"),
          Input("grid-pick", "value"), State("grid-lang", "data"), prevent_initial_call=True)
def _on_cell(click: dict | None, _grid, lang: str):
    twin = context().twin
    position = (gv.clicked_position(twin, click, picked_only=True)  # a cell, not the basemap
                if ctx.triggered_id == "grid-map" else None)
    if position is None:
        return cell_hint(lang)
    return cell_view(gv.cell_card(twin, context().bus, current_user(), position, lang), lang)
