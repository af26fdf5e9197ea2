"""Inspection page (巡检): which streets/towns the inspection vehicles covered in the last N city
days (a choropleth of the share of road cells covered, a table and a headline), the vehicles'
latest positions, and the route what-if over the streets/towns not inspected.

Callbacks are thin: what they show comes from `dashboard.patrol_view`.
"""

from __future__ import annotations

import time

import dash_mantine_components as dmc
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import inputs, maps
from dashboard import patrol_view as pv
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import lang_of, t
from dashboard.legend import legend_box

PATH = "/patrol"
REFRESH_MS = 60_000
INPUTS = {
    "patrol-lang.data": inputs.lang,
    "patrol-days.value": inputs.optional(inputs.one_of([str(n) for n in pv.DAY_CHOICES],
                                                       "a number of days")),
    "patrol-tick.n_intervals": inputs.COUNT, "patrol-plan.n_clicks": inputs.COUNT,
}
COLUMNS = (("patrol_col_unit", "name"), ("patrol_col_road", "road_cells"),
           ("patrol_col_covered", "covered_cells"), ("patrol_col_share", "share"),
           ("patrol_col_inspected", "inspected_text"))


def layout(lang: str = "zh", **_query) -> html.Div:
    lang = lang_of(lang)
    twin, bus = context().twin, context().bus
    if bus is None:
        return html.Div([header(lang, PATH), dmc.Alert(t("patrol_no_bus", lang), color="yellow",
                                                       id="patrol-no-bus")],
                        className="page patrol")
    now, days = time.time(), pv.DEFAULT_DAYS
    table = pv.coverage_table(twin, bus, days, now)
    vehicles = pv.vehicle_layer(bus, twin, now)
    return html.Div(className="page patrol", children=[
        header(lang, PATH),
        dcc.Store(id="patrol-lang", data=lang),
        dcc.Interval(id="patrol-tick", interval=REFRESH_MS),
        html.Div(className="patrol-head", children=[
            dmc.Select(id="patrol-days", label=t("patrol_days", lang), value=str(days),
                       data=pv.day_options(lang), allowDeselect=False, className="patrol-days"),
            html.Div([html.Div(pv.headline(table, lang), id="patrol-headline",
                               className="patrol-headline"),
                      html.Div(pv.window_text(days, now, twin.timezone, lang),
                               id="patrol-window", className="muted")]),
            html.Div(pv.vehicles_text(vehicles, lang), id="patrol-vehicles", className="muted")]),
        html.Div(className="patrol-body", children=[
            html.Section(className="card patrol-side", children=[
                html.H3(t("patrol_title", lang)),
                html.Div([maps.map_component("patrol-map", tooltip={"text": "{title}"},
                                             data=pv.deck(twin, table, vehicles, lang)),
                          html.Div(legend_box(pv.legend(lang)), className="scn-legend",
                                   id="patrol-legend")],
                         className="map patrol-map", id="patrol-map-box")]),
            html.Section(className="card patrol-route-card", children=[
                html.H3(t("patrol_route_title", lang)),
                dmc.Badge(t("patrol_whatif", lang), color="orange", variant="light", tt="none",
                          id="patrol-whatif"),
                html.P(t("patrol_route_intro", lang), className="muted"),
                dmc.Button(t("patrol_plan", lang), id="patrol-plan", n_clicks=0),
                html.Div(id="patrol-route", className="patrol-route")]),
        ]),
        html.Section(className="card patrol-table-card", children=[
            html.H3(t("patrol_table", lang)),
            html.Div(coverage_table(pv.coverage_rows(table, lang, pv.unit_names(twin, lang)),
                                    lang), id="patrol-table")]),
    ])


def coverage_table(rows: list[dict], lang: str) -> html.Table:
    head = html.Thead(html.Tr([html.Th(t(label, lang)) for label, _ in COLUMNS]))
    body = html.Tbody([html.Tr([html.Td(str(r[key])) for _, key in COLUMNS],
                               className="" if r["inspected"] else "uninspected")
                       for r in rows])
    return html.Table([head, body], className="case-table", id="patrol-coverage-table")


def route_view(route: dict) -> list:
    """The plan's lines: its length and time first (id patrol-route-length)."""
    lines = route["lines"]
    if not lines:
        return []
    return [html.P(lines[0], id="patrol-route-length", className="patrol-route-length"),
            *[html.P(line) for line in lines[1:]]]


@callback(Output("patrol-map", "data"), Output("patrol-headline", "children"),
          Output("patrol-window", "children"), Output("patrol-vehicles", "children"),
          Output("patrol-table", "children"), Output("patrol-route", "children"),
          Input("patrol-days", "value"), Input("patrol-tick", "n_intervals"),
          Input("patrol-plan", "n_clicks"), State("patrol-lang", "data"),
          prevent_initial_call=True)
def _on_update(days, _tick, _plan, lang):
    twin, bus = context().twin, context().bus
    if bus is None:
        raise PreventUpdate
    shown = pv.update(twin, bus, pv.days_of(days), lang, ctx.triggered_id, time.time())
    patch = Patch()
    for index, layer in shown["layers"].items():
        patch["layers"][index] = layer
    route = no_update if shown["route"] is None else route_view(shown["route"])
    return (patch, shown["headline"], shown["window"], shown["vehicles"],
            coverage_table(shown["rows"], lang), route)
