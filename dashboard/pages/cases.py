"""Cases page: the work-order queue with filters and SLA countdowns, overdue cases on the map,
the selected case's audit trail and actions, and department and grid scorecards.

Callbacks are thin: what they show comes from `dashboard.case_view`, which only ever returns
the cases the logged-in user may see, and refuses actions they may not do.
"""

from __future__ import annotations

import time

import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import case_view as cv
from dashboard import inputs, maps
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t
from dashboard.policy import visible_grids
from dashboard.session import current_user
from layers.loop.cases import STATUSES
from layers.loop.scorecard import scorecard

PATH = "/cases"
FILTERS = ("status", "department", "grid", "category")
SCORE_DAYS = 7
CASE_ID = inputs.token(r"[A-Za-z0-9_-]{1,64}", "a case id")
INPUTS = {  # what each input of this page's callbacks may carry (dashboard.inputs)
    "cases-filter-status.value": inputs.optional(inputs.one_of(STATUSES, "a case status")),
    "cases-filter-department.value": inputs.optional(inputs.one_of(
        lambda: [str(d) for d in context().twin.departments["id"]], "a department")),
    "cases-filter-grid.value": inputs.optional(inputs.grid),
    "cases-filter-category.value": inputs.optional(
        inputs.token(r"[a-z0-9_]{1,64}", "a category code")),
    "cases-tick.n_intervals": inputs.COUNT, "cases-map-tick.n_intervals": inputs.COUNT,
    "cases-version.data": inputs.COUNT, "cases-lang.data": inputs.lang,
    "cases-selected.data": inputs.optional(CASE_ID),
    "cases-row.n_clicks": inputs.COUNT, "cases-act.n_clicks": inputs.COUNT,
    "cases-note.value": inputs.optional(inputs.text()),
}

add_labels({
    "nav_cases": {"zh": "案件", "en": "Cases"},
    "filter_status": {"zh": "状态", "en": "Status"},
    "filter_department": {"zh": "部门", "en": "Department"},
    "filter_grid": {"zh": "网格", "en": "Grid"},
    "filter_category": {"zh": "类别", "en": "Category"},
    "cases_queue": {"zh": "案件队列", "en": "Case queue"},
    "cases_map": {"zh": "超时案件分布", "en": "Overdue cases on the map"},
    "case_detail": {"zh": "案件详情与处置记录", "en": "Case and audit trail"},
    "pick_case": {"zh": "点击队列中的案件查看详情", "en": "Click a case in the queue"},
    "score_departments": {"zh": "部门考核（近7天）", "en": "Departments (last 7 days)"},
    "score_grids": {"zh": "网格考核（近7天）", "en": "Grids (last 7 days)"},
})


def layout(lang: str = "zh", **_query) -> html.Div:
    lang = lang_of(lang)
    store = cv.case_store()
    if store is None:
        return html.Div([header(lang, PATH), dmc.Alert(t("cases_no_bus", lang), color="yellow",
                                                       id="cases-no-bus")], className="page cases")
    names = cv.department_names(context().twin, lang)
    options = cv.filter_options(cv.visible_cases(store, current_user()), lang, names)
    filters = [dmc.Select(id=f"cases-filter-{f}", label=t(f"filter_{f}", lang), data=options[f],
                          clearable=True, searchable=True, className="cases-filter")
               for f in FILTERS]
    return html.Div(className="page cases", children=[
        header(lang, PATH),
        dcc.Store(id="cases-lang", data=lang), dcc.Store(id="cases-selected"),
        dcc.Store(id="cases-version", data=0),
        dcc.Interval(id="cases-tick", interval=15_000),
        dcc.Interval(id="cases-map-tick", interval=60_000),
        dmc.Group(filters, className="cases-filters", gap="sm", align="flex-end"),
        html.Div(className="cases-body", children=[
            html.Section(className="card cases-queue", children=[
                html.H3(t("cases_queue", lang)), html.Div(id="cases-queue")]),
            html.Section(className="card cases-side", children=[
                html.H3(t("cases_map", lang)),
                html.Div(maps.map_component("cases-map", data=maps.deck(context().twin, []),
                                          tooltip={"text": "{ids}"},
                                          style={"position": "relative", "height": "100%"}),
                         className="map cases-map", id="cases-map-box"),
                html.H3(t("case_detail", lang)),
                html.Div(id="cases-feedback"),
                html.Div(t("pick_case", lang), id="cases-detail")]),
        ]),
        html.Div(className="cases-scores", children=[
            html.Section([html.H3(t("score_departments", lang)),
                          dcc.Graph(id="cases-score-department", config={"displaylogo": False})],
                         className="card"),
            html.Section([html.H3(t("score_grids", lang)),
                          dcc.Graph(id="cases-score-grid", config={"displaylogo": False})],
                         className="card")]),
    ])


def _filtered(values: tuple) -> list[dict]:
    kw = dict(zip(FILTERS, values, strict=True))
    kw["grid"] = int(kw["grid"]) if kw["grid"] else None
    return cv.visible_cases(cv.case_store(), current_user(), **kw)


FILTER_INPUTS = [Input(f"cases-filter-{f}", "value") for f in FILTERS]


@callback(Output("cases-queue", "children"), *FILTER_INPUTS, Input("cases-tick", "n_intervals"),
          Input("cases-version", "data"), State("cases-lang", "data"))
def _on_queue(status, department, grid, category, _tick, _version, lang):
    names = cv.department_names(context().twin, lang)
    rows = cv.queue_rows(_filtered((status, department, grid, category)), time.time(), lang,
                         names)
    return cv.queue_table(rows, lang, "cases-row")


@callback(Output("cases-map", "data"), *FILTER_INPUTS, Input("cases-map-tick", "n_intervals"),
          Input("cases-version", "data"))
def _on_map(status, department, grid, category, _tick, _version):
    records = cv.case_cells(_filtered((status, department, grid, category)), time.time())
    twin = context().twin
    return maps.deck(twin, cv.case_layers(records), focus=cv.case_positions(records, twin))


@callback(Output("cases-selected", "data"), Input({"type": "cases-row", "case": ALL}, "n_clicks"),
          prevent_initial_call=True)
def _on_pick(_clicks):
    if not isinstance(ctx.triggered_id, dict) or not ctx.triggered[0]["value"]:
        return no_update
    return ctx.triggered_id["case"]


@callback(Output("cases-detail", "children"), Input("cases-selected", "data"),
          Input("cases-version", "data"), Input("cases-tick", "n_intervals"),
          State("cases-lang", "data"), prevent_initial_call=True)
def _on_detail(case_id, _version, _tick, lang):
    store, user = cv.case_store(), current_user()
    case = cv.visible_case(store, user, case_id)
    if case is None:
        return t("pick_case", lang)
    clock = cv.countdown(case, time.time(), lang)
    return html.Div(id="case-detail-body", children=[
        html.H4(f"{case.id} · {case.title or ''}"),
        dmc.Group([cv.status_badge(case.status, lang, clock["overdue"]),
                   html.Span(clock["text"], className="countdown" + (
                       " overdue" if clock["overdue"] else ""))], gap="sm"),
        cv.action_panel(case, user, lang, "cases"),
        cv.trail_table(cv.trail_rows(store.history(case.id), lang), lang)])


@callback(Output("cases-version", "data"), Output("cases-feedback", "children"),
          Input({"type": "cases-act", "action": ALL, "case": ALL}, "n_clicks"),
          State({"type": "cases-note", "case": ALL}, "value"), State("cases-version", "data"),
          State("cases-lang", "data"), prevent_initial_call=True)
def _on_act(_clicks, _notes, version, lang):
    return cv.act_and_report(ctx.triggered_id, ctx.triggered[0]["value"], ctx.states_list[0],
                             current_user(), version, lang)


@callback(Output("cases-score-department", "figure"), Output("cases-score-grid", "figure"),
          Input("cases-version", "data"), State("cases-lang", "data"))
def _on_scores(_version, lang):
    store, user = cv.case_store(), current_user()
    now = time.time()
    since = now - SCORE_DAYS * 86400
    grids = visible_grids(user)
    twin = context().twin
    keep_grids = None if grids is None else {
        str(i) for g, i in zip(twin.grids["grid"], twin.grids["id"], strict=True) if g in grids}
    deps = [] if grids is not None else cv.scorecard_rows(
        scorecard(store, since, now + 1, by="department", now=now))
    by_grid = cv.scorecard_rows(scorecard(store, since, now + 1, by="grid", now=now), keep_grids)
    names = cv.department_names(twin, lang)
    hidden = "score_commanders_only" if grids is not None else "cases_none"
    return cv.scorecard_figure(deps, lang, names, hidden), cv.scorecard_figure(by_grid, lang)
