"""Cases page: the work-order queue with filters and SLA countdowns, overdue cases on the map,
the selected case's audit trail and actions, and department and grid scorecards.

Callbacks are thin: what they show comes from `dashboard.case_view`, which only ever returns
the cases the logged-in user may see, and refuses actions they may not do.
"""

from __future__ import annotations

import time

import dash_mantine_components as dmc
from dash import ALL, MATCH, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import case_queue as cq
from dashboard import case_view as cv
from dashboard import inputs, maps, media, scorecards
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t
from dashboard.policy import visible_grids
from dashboard.session import current_user
from layers.loop.cases import STATUSES
from layers.loop.scorecard import scorecards as score_tables

PATH = "/cases"
FILTERS = cq.FILTERS
SCORE_DAYS = 7
SCORE_DELAY_MS = 2500  # the scorecards wait this long after the page (the map first)
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
    "cases-photo.contents": inputs.optional(inputs.text(media.MAX_UPLOAD_CHARS)),
    "cases-photo.filename": inputs.optional(inputs.text(255)),
    "cases-order.value": inputs.optional(inputs.one_of(cq.ORDERS, "an order")),
    "cases-prev.n_clicks": inputs.COUNT, "cases-next.n_clicks": inputs.COUNT,
    "cases-new.n_clicks": inputs.COUNT, "cases-score-delay.n_intervals": inputs.COUNT,
    "cases-query.data": inputs.optional(inputs.mapping({
        "status": inputs.optional(inputs.one_of(STATUSES, "a case status")),
        "department": inputs.optional(inputs.text(100)),
        "grid": inputs.optional(inputs.grid),
        "category": inputs.optional(inputs.token(r"[a-z0-9_]{1,64}", "a category code")),
        "order": inputs.optional(inputs.one_of(cq.ORDERS, "an order")),
        "as_of": inputs.optional(inputs.number(0, 1e11)),
        "page": inputs.optional(inputs.integer(1, 10 ** 6))}, "the queue's query")),
    "cases-pages.data": inputs.optional(inputs.mapping({
        "page": inputs.integer(1, 10 ** 6), "pages": inputs.integer(1, 10 ** 6)}, "the pager")),
    "cases-page-ids.data": inputs.optional(inputs.items(CASE_ID, cq.PAGE_SIZE)),
    "cases-sig.data": inputs.optional(inputs.text(20_000)),
}

add_labels({
    "nav_cases": {"zh": "案件", "en": "Cases"},
    "filter_status": {"zh": "状态", "en": "Status"},
    "filter_department": {"zh": "部门", "en": "Department"},
    "filter_grid": {"zh": "网格", "en": "Grid"},
    "filter_category": {"zh": "类别", "en": "Category"},
    "cases_queue": {"zh": "案件队列", "en": "Case queue"},
    "cases_map": {"zh": "在办案件分布（红色：含超期）", "en": "Open cases (red: some overdue)"},
    "cases_order": {"zh": "排序", "en": "Order"},
    "cases_prev": {"zh": "上一页", "en": "Previous page"},
    "cases_next": {"zh": "下一页", "en": "Next page"},
    "cases_page": {"zh": "第 {} / {} 页", "en": "page {} of {}"},
    "cases_order_urgent": {"zh": "最紧急优先", "en": "Most urgent first"},
    "cases_order_newest": {"zh": "最新优先", "en": "Newest first"},
    "cases_count": {"zh": "第 {}–{} 条，共 {:,} 条", "en": "{}–{} of {:,}"},
    "cases_new": {"zh": "{} 件新案件，点击刷新", "en": "{} new: show them"},
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
    user, twin = current_user(), context().twin
    options = cq.filter_options(store, user, twin, lang)
    filters = [dmc.Select(id=f"cases-filter-{f}", label=t(f"filter_{f}", lang), data=options[f],
                          clearable=True, searchable=True, className="cases-filter")
               for f in FILTERS]
    order = dmc.Select(id="cases-order", label=t("cases_order", lang), value="urgent",
                       allowDeselect=False, className="cases-filter",
                       data=[{"value": o, "label": t(f"cases_order_{o}", lang)}
                             for o in ("urgent", "newest")])
    query = cq.Query(as_of=time.time())
    return html.Div(className="page cases", children=[
        header(lang, PATH),
        dcc.Store(id="cases-lang", data=lang), dcc.Store(id="cases-selected"),
        dcc.Store(id="cases-version", data=0), dcc.Store(id="cases-query", data=query.__dict__),
        dcc.Store(id="cases-page-ids", data=[]), dcc.Store(id="cases-sig"),
        dcc.Interval(id="cases-tick", interval=15_000),
        dcc.Interval(id="cases-map-tick", interval=60_000),
        dmc.Group([*filters, order], className="cases-filters", gap="sm", align="flex-end"),
        html.Div(className="cases-body", children=[
            html.Section(className="card cases-queue", children=[
                html.Div(className="queue-head", children=[
                    html.H3(t("cases_queue", lang)),
                    html.Span(id="cases-count", className="muted"),
                    dmc.Button(id="cases-new", n_clicks=0, size="xs", color="yellow",
                               variant="light", style={"display": "none"})]),
                html.Div(id="cases-queue"),
                html.Div(className="cases-pages", children=[
                    dmc.Button(t("cases_prev", lang), id="cases-prev", n_clicks=0, size="xs",
                               variant="default"),
                    html.Span(id="cases-page-text", className="muted"),
                    dmc.Button(t("cases_next", lang), id="cases-next", n_clicks=0, size="xs",
                               variant="default"),
                    dcc.Store(id="cases-pages", data={"page": 1, "pages": 1})])]),
            html.Section(className="card cases-side", children=[
                html.H3(t("cases_map", lang)),
                html.Div(maps.map_component("cases-map", tooltip={"text": "{n}"},
                                            data=cq.case_map(twin, cq.open_points(
                                                store, user, query), time.time())),
                         className="map cases-map", id="cases-map-box"),
                html.H3(t("case_detail", lang)),
                html.Div(id="cases-feedback"),
                html.Div(t("pick_case", lang), id="cases-detail")]),
        ]),
        # the scorecards (Plotly) come a moment after the page, so the queue and the map
        # are drawn first: Plotly's script is large to load on a busy machine
        dcc.Interval(id="cases-score-delay", interval=SCORE_DELAY_MS, max_intervals=1),
        html.Div(className="cases-scores", id="cases-scores"),
    ])


def score_sections(department_figure, grid_figure, lang: str) -> list:
    return [html.Section([html.H3(t("score_departments", lang)),
                          dcc.Graph(id="cases-score-department", figure=department_figure,
                                    config={"displaylogo": False})], className="card"),
            html.Section([html.H3(t("score_grids", lang)),
                          dcc.Graph(id="cases-score-grid", figure=grid_figure,
                                    config={"displaylogo": False})], className="card")]


FILTER_INPUTS = [Input(f"cases-filter-{f}", "value") for f in FILTERS]


@callback(Output("cases-query", "data"), *FILTER_INPUTS, Input("cases-order", "value"),
          Input("cases-prev", "n_clicks"), Input("cases-next", "n_clicks"),
          Input("cases-new", "n_clicks"), State("cases-query", "data"),
          State("cases-pages", "data"), prevent_initial_call=True)
def _on_query(status, department, grid, category, order, _prev, _next, _new, query, pages):
    step = {"cases-prev": -1, "cases-next": 1}.get(ctx.triggered_id, 0)
    page = min(max(1, (pages or {}).get("page", 1) + step), (pages or {}).get("pages", 1))
    return next_query(query, dict(zip(FILTERS, (status, department, grid, category),
                                      strict=True)), order, page,
                      "cases-pages" if step else ctx.triggered_id)


def next_query(query: dict | None, filters: dict, order: str, page: int | None,
               trigger: str | None, now: float | None = None) -> dict:
    """The queue's next query: a new filter or order, or the "N new" button, takes the list
    afresh from page 1; the pager only turns the page."""
    old = cq.Query.of(query)
    if trigger == "cases-pages":
        return {**old.__dict__, "page": int(page or 1)}
    now = time.time() if now is None else now
    return cq.Query.of({**filters, "order": order, "as_of": now, "page": 1}).__dict__


@callback(Output("cases-queue", "children"), Output("cases-page-ids", "data"),
          Output("cases-pages", "data"), Output("cases-page-text", "children"),
          Output("cases-count", "children"), Output("cases-sig", "data"),
          Input("cases-query", "data"), Input("cases-version", "data"),
          State("cases-lang", "data"))
def _on_queue(query, _version, lang):
    shown = cq.page(cv.case_store(), current_user(), cq.Query.of(query), time.time(), lang,
                    context().twin)
    first = (shown["page"] - 1) * cq.PAGE_SIZE + 1 if shown["total"] else 0
    count = t("cases_count", lang).format(first, first + len(shown["ids"]) - 1 if shown["ids"]
                                          else 0, shown["total"])
    return (cv.queue_table(shown["rows"], lang, "cases-row"), shown["ids"],
            {"page": shown["page"], "pages": shown["pages"]},
            t("cases_page", lang).format(shown["page"], shown["pages"]), count,
            cq.signature(shown["rows"]))


@callback(Output("cases-queue", "children", allow_duplicate=True),
          Output("cases-sig", "data", allow_duplicate=True), Output("cases-new", "children"),
          Output("cases-new", "style"), Input("cases-tick", "n_intervals"),
          State("cases-page-ids", "data"), State("cases-sig", "data"),
          State("cases-query", "data"), State("cases-lang", "data"), prevent_initial_call=True)
def _on_refresh(_tick, page_ids, sig, query, lang):
    store, user = cv.case_store(), current_user()
    fresh = cq.rows(store, page_ids or [], time.time(), lang, context().twin)
    new = cq.new_since(store, user, cq.Query.of(query))
    button = (t("cases_new", lang).format(new), {} if new else {"display": "none"})
    if cq.signature(fresh) == sig:
        return no_update, no_update, *button
    return cv.queue_table(fresh, lang, "cases-row"), cq.signature(fresh), *button


@callback(Output("cases-map", "data"), Input("cases-query", "data"),
          Input("cases-map-tick", "n_intervals"), Input("cases-version", "data"),
          Input("cases-selected", "data"), prevent_initial_call=True)
def _on_map(query, _tick, _version, case_id):
    store, now, user = cv.case_store(), time.time(), current_user()
    points = cq.open_points(store, user, cq.Query.of(query))
    case = cv.visible_case(store, user, case_id) if case_id else None
    focus = (case.place.lat, case.place.lng) if case is not None and case.place.cell else None
    return cq.case_map(context().twin, points, now, focus=focus)


@callback(Output("cases-selected", "data"), Input({"type": "cases-row", "case": ALL}, "n_clicks"),
          prevent_initial_call=True)
def _on_pick(_clicks):
    if not isinstance(ctx.triggered_id, dict) or not ctx.triggered[0]["value"]:
        return no_update
    return ctx.triggered_id["case"]


@callback(Output("cases-detail", "children"), Input("cases-selected", "data"),
          Input("cases-version", "data"), Input("cases-tick", "n_intervals"),
          State("cases-lang", "data"), State({"type": "cases-note", "case": ALL}, "value"),
          State({"type": "cases-photo", "case": ALL}, "filename"), prevent_initial_call=True)
def _on_detail(case_id, _version, _tick, lang, notes=None, photos=None):
    if cv.input_pending(ctx.triggered_id == "cases-tick", notes, photos):
        return no_update
    store, user = cv.case_store(), current_user()
    case = cv.visible_case(store, user, case_id)
    if case is None:
        return t("pick_case", lang)
    clock = cv.countdown(case, time.time(), lang)
    return html.Div(id="case-detail-body", children=[
        html.H4(f"{case.id} · {cv.title_text(case, lang)}"),
        dmc.Group([cv.status_badge(case.status, lang, clock["overdue"]),
                   html.Span(clock["text"], className="countdown" + (
                       " overdue" if clock["overdue"] else ""))], gap="sm"),
        cv.action_panel(case, user, lang, "cases"),
        cv.trail_table(cv.trail_rows(store.history(case.id), lang), lang)])


@callback(Output({"type": "cases-photo", "case": MATCH}, "children"),
          Input({"type": "cases-photo", "case": MATCH}, "filename"), State("cases-lang", "data"),
          prevent_initial_call=True)
def _on_photo(filename, lang):
    return html.Div(cv.photo_label(filename, lang))


@callback(Output("cases-version", "data"), Output("cases-feedback", "children"),
          Input({"type": "cases-act", "action": ALL, "case": ALL}, "n_clicks"),
          State({"type": "cases-note", "case": ALL}, "value"),
          State({"type": "cases-photo", "case": ALL}, "contents"), State("cases-version", "data"),
          State("cases-lang", "data"), prevent_initial_call=True)
def _on_act(_clicks, _notes, _photos, version, lang):
    return cv.act_and_report(ctx.triggered_id, ctx.triggered[0]["value"], ctx.states_list[0],
                             current_user(), version, lang, ctx.states_list[1])


@callback(Output("cases-scores", "children"), Input("cases-score-delay", "n_intervals"),
          Input("cases-version", "data"), State("cases-lang", "data"), prevent_initial_call=True)
def _on_scores(_shown, _version, lang):
    store, user = cv.case_store(), current_user()
    now = time.time()
    since = now - SCORE_DAYS * 86400
    grids = visible_grids(user)
    twin = context().twin
    keep_grids = None if grids is None else {
        str(i) for g, i in zip(twin.grids["grid"], twin.grids["id"], strict=True) if g in grids}
    tables = score_tables(store, since, now + 1, ("grid",) if grids is not None
                          else ("department", "grid"), now=now)
    deps = [] if grids is not None else scorecards.scorecard_rows(tables["department"])
    by_grid = scorecards.scorecard_rows(tables["grid"], keep_grids)
    names = cv.department_names(twin, lang)
    hidden = "score_commanders_only" if grids is not None else "cases_none"
    return score_sections(scorecards.scorecard_figure(deps, lang, names, hidden),
                          scorecards.scorecard_figure(by_grid, lang), lang)
