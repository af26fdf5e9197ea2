"""Scenarios page (planners' workbench): set up a what-if, run it, play it, compare, export.

The form is generated from `scenario_view.FORMS` (the forms of sim's hazard registry); a run is
a Dash background callback (its own process, a Celery worker in a fleet; a progress bar fed by
the model) whose result stays on the server (`dashboard.results`: Redis on a live bus), the
browser holding only run ids. Callbacks only move values to and from `dashboard.scenario_view`.
"""

from __future__ import annotations

import dash_mantine_components as dmc
from dash import ALL, Input, Output, Patch, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import NotFound

from dashboard import inputs, maps, overlay, planner, results
from dashboard import scenario_export as sx
from dashboard import scenario_view as sv
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import add_labels, lang_of, t
from dashboard.legend import legend_box
from dashboard.session import current_user
from dashboard.sim_messages import error_text
from sim import Result, ScenarioError

PATH = "/scenarios"
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
RUN_ID = inputs.token(r"[0-9a-f]{12}", "a run id (12 hex digits)")


def result_of(run_id: str) -> Result:
    """A stored run, or 404 naming it (runs beyond the last few are dropped)."""
    try:
        return results.store(context().bus).get(run_id)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from exc


def _known_run(value, name: str) -> None:
    RUN_ID(value, name)
    if value not in results.store(context().bus).ids():
        raise NotFound(f"input {name}: run {value} is no longer stored (only the last "
                       f"{results.KEEP_RUNS} are kept): run the scenario again")


def _field_value(value, name: str) -> None:
    if isinstance(value, str):
        return inputs.text(100)(value, name)
    return inputs.number(-1e12, 1e12)(value, name)


INPUTS = {  # what each input of this page's callbacks may carry (dashboard.inputs)
    "scn-lang.data": inputs.lang,
    "scn-example.value": inputs.optional(inputs.one_of(lambda: sv.examples(), "an example")),
    "scn-kind.value": inputs.one_of(sv.FORMS, "a hazard form"),
    "scn-example-state.data": inputs.optional(inputs.mapping({
        "kind": inputs.one_of(sv.FORMS, "a hazard form"),
        "values": inputs.optional(inputs.json_object()),
        "extras": inputs.optional(inputs.json_object())}, "an example's form values")),
    "scn-map.clickInfo": inputs.optional(inputs.click_info),
    "scn-run.n_clicks": inputs.COUNT, "scn-name.value": inputs.optional(inputs.text(200)),
    "scn-field.value": inputs.optional(_field_value),
    "scn-field.id": inputs.mapping({"type": inputs.text(40), "key": inputs.text(100)},
                                   "a form field's id"),
    "scn-lat.value": inputs.optional(inputs.number(-90, 90)),
    "scn-lng.value": inputs.optional(inputs.number(-180, 180)),
    "scn-facility.value": inputs.optional(inputs.text(100)),
    "scn-live.checked": inputs.optional(inputs.flag),
    "scn-runs.data": inputs.optional(inputs.items(inputs.mapping(
        {"value": RUN_ID, "label": inputs.text(300)}, "a run"),
        results.KEEP_RUNS + results.SAVED_MAX + 1)),
    "scn-save.n_clicks": inputs.COUNT, "scn-unsave.n_clicks": inputs.COUNT,
    "scn-save-name.value": inputs.optional(inputs.text(results.SAVED_NAME_MAX)),
    "scn-current.data": inputs.optional(_known_run),
    "scn-time.value": inputs.optional(inputs.integer(0, 10 ** 6)),
    "scn-time.max": inputs.optional(inputs.integer(0, 10 ** 6)),
    "scn-tick.n_intervals": inputs.COUNT, "scn-tick.disabled": inputs.optional(inputs.flag),
    "scn-play.n_clicks": inputs.COUNT, "scn-to-wall.n_clicks": inputs.COUNT,
    "scn-compare-a.value": inputs.optional(RUN_ID), "scn-compare-b.value": inputs.optional(RUN_ID),
    **{f"scn-export-{fmt}.n_clicks": inputs.COUNT for fmt in sx.EXPORTS},
}

add_labels({
    "nav_scenarios": {"zh": "情景推演", "en": "Scenarios"},
    "scn_to_wall": {"zh": "推送到指挥大屏", "en": "Show on the command wall"},
    "scn_on_wall": {"zh": "已推送到指挥大屏", "en": "Now on the command wall"},
    "scn_example": {"zh": "载入示例情景", "en": "Load an example"},
    "scn_hazard": {"zh": "灾种", "en": "Hazard"},
    "scn_name": {"zh": "情景名称", "en": "Scenario name"},
    "scn_facility": {"zh": "设施位置", "en": "At a facility"},
    "scn_lat": {"zh": "纬度", "en": "Latitude"},
    "scn_lng": {"zh": "经度", "en": "Longitude"},
    "scn_click_hint": {"zh": "点击地图设置位置，或选择设施", "en": "Click the map to place it, or choose a facility"},
    "scn_live": {"zh": "使用当前实时数据", "en": "Start from live readings"},
    "scn_live_on": {"zh": "降雨、水位及气象站的风与云量取自实时图层", "en": "Rain, water levels and the weather stations' wind and cloud come from the live layers"},
    "scn_live_off": {"zh": "未连接实时数据总线，无法使用", "en": "No live bus connected: unavailable"},
    "scn_run": {"zh": "运行推演", "en": "Run"},
    "scn_time": {"zh": "时间", "en": "Time"},
    "scn_play": {"zh": "播放", "en": "Play"},
    "scn_pause": {"zh": "暂停", "en": "Pause"},
    "scn_tab_impact": {"zh": "影响评估", "en": "Impact"},
    "scn_tab_compare": {"zh": "结果对比", "en": "Compare"},
    "scn_report": {"zh": "一页报告（可打印）", "en": "One-page report (printable)"},
    "scn_save_name": {"zh": "保存名称（默认为情景名称）", "en": "Name to save under (default: the "
                      "scenario's)"},
    "scn_save": {"zh": "保存此次推演", "en": "Save this run"},
    "scn_unsave": {"zh": "移出已保存", "en": "Remove from saved"},
    "scn_saved": {"zh": "已保存为“{}”：不会随新推演被清除", "en": "Saved as \"{}\": kept past new runs"},
    "scn_unsaved": {"zh": "已移出保存列表：将随新推演被清除", "en": "Removed from saved: dropped as new "
                    "runs come"},
    "scn_saved_full": {"zh": "已保存 {} 次推演，已达上限：请先移出一次", "en": "{} runs are saved "
                       "already: remove one first"},
    "scn_run_gone": {"zh": "这次推演已不在保存范围内：请重新运行", "en": "This run is no longer kept: "
                     "run it again"},
    "scn_tab_export": {"zh": "导出", "en": "Export"},
    "scn_no_result": {"zh": "尚无结果：设置情景后点击运行", "en": "No result yet: set up a scenario and run it"},
    "scn_units": {"zh": "各街镇受影响人口", "en": "People affected per street / town"},
    "scn_facilities": {"zh": "受影响设施", "en": "Facilities affected"},
    "scn_run_a": {"zh": "结果 A", "en": "Result A"},
    "scn_run_b": {"zh": "结果 B", "en": "Result B"},
    "scn_export_netcdf": {"zh": "NetCDF 结果", "en": "NetCDF result"},
    "scn_export_geoparquet": {"zh": "GeoParquet 单元峰值", "en": "GeoParquet cell peaks"},
    "scn_export_cap": {"zh": "CAP 1.2 预警", "en": "CAP 1.2 warning"},
    "scn_error": {"zh": "无法运行", "en": "Cannot run"},
    "scn_warning": {"zh": "结果警告", "en": "Result warning"},
})


def layout(lang: str = "zh", **_query) -> html.Div:
    lang = lang_of(lang)
    twin = context().twin
    runs = kept_runs(lang)  # the runs of every planner, saved first: a reload loses none
    return html.Div(className="page scenarios", children=[
        header(lang, PATH),
        dcc.Store(id="scn-lang", data=lang),
        dcc.Store(id="scn-example-state"), dcc.Store(id="scn-current"),
        dcc.Store(id="scn-runs", data=runs),
        dcc.Interval(id="scn-tick", interval=900, disabled=True),
        dcc.Download(id="scn-download"),
        html.Div(className="scn-body", children=[
            html.Div(form_panel(twin, lang), className="scn-form"),
            html.Div(className="scn-main", children=[
                html.Div([maps.map_component("scn-map", data=maps.deck(twin, []), tooltip=True,
                                          enableEvents=["click"],
                                          style={"position": "relative", "height": "100%"}),
                         html.Div(id="scn-legend", className="scn-legend")],
                         className="scn-map", id="scn-map-box"),
                time_bar(lang),
                result_tabs(lang, runs),
            ]),
        ]),
    ])


def form_panel(twin, lang: str) -> list:
    """The form column: example, hazard, name, location, parameters, live toggle, run, progress."""
    bus = context().bus
    return [
        dmc.Select(id="scn-example", label=t("scn_example", lang), clearable=True,
                   data=[{"value": k, "label": sv.in_lang(s.name, lang)}
                         for k, s in sv.examples().items()]),
        dmc.Select(id="scn-kind", label=t("scn_hazard", lang), value="toxic_release",
                   allowDeselect=False,
                   data=[{"value": k, "label": t(f"form_{k}", lang)} for k in sv.FORMS]),
        dmc.TextInput(id="scn-name", label=t("scn_name", lang)),
        dmc.Select(id="scn-facility", label=t("scn_facility", lang), searchable=True,
                   clearable=True, data=sv.facility_options(twin, "toxic_release", lang)),
        dmc.Group(grow=True, children=[
            dmc.NumberInput(id="scn-lat", label=t("scn_lat", lang), decimalScale=5, step=0.001),
            dmc.NumberInput(id="scn-lng", label=t("scn_lng", lang), decimalScale=5, step=0.001)]),
        dmc.Text(t("scn_click_hint", lang), size="xs", c="dimmed"),
        html.Div(id="scn-fields", className="scn-fields",
                 children=field_inputs("toxic_release", {}, lang)),
        dmc.Switch(id="scn-live", label=t("scn_live", lang), checked=False, disabled=bus is None,
                   description=t("scn_live_on" if bus is not None else "scn_live_off", lang)),
        dmc.Button(t("scn_run", lang), id="scn-run", n_clicks=0, fullWidth=True),
        html.Div(id="scn-progress-box", style=HIDDEN, children=[
            dmc.Progress(id="scn-progress", value=0, size="lg", striped=True, animated=True),
            dmc.Text(id="scn-phase", size="sm")]),
        html.Div(id="scn-error", className="scn-error"),
    ]


def field_inputs(kind: str, values: dict, lang: str) -> list:
    """One input per form field (pattern-matching ids keyed by the field's scenario path)."""
    out = []
    for f in sv.fields(kind):
        ident = {"type": "scn-field", "key": f.key}
        label = t(f"field_{f.name}", lang) + (f" ({t(f'unit_{f.unit}', lang)})" if f.unit else "")
        value = values.get(f.key, f.default) if values else f.default
        if f.options:
            out.append(dmc.Select(id=ident, label=label, value=value, allowDeselect=False,
                                  data=list(f.options)))
        else:
            out.append(dmc.NumberInput(id=ident, label=label, value=value, min=f.lo, max=f.hi,
                                       step=f.step))
    return out


def time_bar(lang: str) -> html.Div:
    return html.Div(className="scn-timebar", children=[
        dmc.Button(t("scn_play", lang), id="scn-play", n_clicks=0, variant="light", size="xs"),
        html.Span(t("scn_time", lang), className="scn-time-label"),
        html.Div(dmc.Slider(id="scn-time", min=0, max=1, step=1, value=0, disabled=True,
                            updatemode="mouseup"), className="scn-slider"),
        html.Span(id="scn-time-text", className="scn-time-text"),
    ])


def kept_runs(lang: str) -> list[dict]:
    """The store's runs as choices for the comparison and the saved list."""
    return planner.run_options(results.store(context().bus).runs(), lang,
                               context().twin.timezone)


def result_tabs(lang: str, runs: list[dict]) -> dmc.Tabs:
    tab = {"impact": "scn_tab_impact", "compare": "scn_tab_compare", "export": "scn_tab_export"}
    export_buttons = [dmc.Button(t(f"scn_export_{fmt}", lang), id=f"scn-export-{fmt}",
                                 n_clicks=0, variant="outline", disabled=True)
                      for fmt in sx.EXPORTS]
    return dmc.Tabs(value="impact", id="scn-tabs", children=[
        dmc.TabsList([dmc.TabsTab(t(label, lang), value=key) for key, label in tab.items()]),
        dmc.TabsPanel(html.Div(id="scn-impact", children=dmc.Text(t("scn_no_result", lang))),
                      value="impact"),
        dmc.TabsPanel(value="compare", children=[
            dmc.Group(grow=True, children=[
                dmc.Select(id="scn-compare-a", label=t("scn_run_a", lang), data=runs),
                dmc.Select(id="scn-compare-b", label=t("scn_run_b", lang), data=runs)]),
            html.Div(id="scn-compare")]),
        dmc.TabsPanel(value="export", children=[dmc.Group(export_buttons + [
            dmc.Button(t("scn_to_wall", lang), id="scn-to-wall", n_clicks=0, disabled=True,
                       color="yellow", variant="filled",
                       style={"display": "none"} if context().bus is None else None),
            html.A(t("scn_report", lang), id="scn-report", target="_blank", href=None,
                   className="scn-report-link"),
            html.Span(id="scn-wall-note")], className="scn-exports"),
            dmc.Group([
                dmc.TextInput(id="scn-save-name", placeholder=t("scn_save_name", lang),
                              inputProps={"maxLength": results.SAVED_NAME_MAX},
                              className="scn-save-name",
                              **{"aria-label": t("scn_save_name", lang)}),
                dmc.Button(t("scn_save", lang), id="scn-save", n_clicks=0, variant="outline"),
                dmc.Button(t("scn_unsave", lang), id="scn-unsave", n_clicks=0,
                           variant="subtle", color="gray"),
                html.Span(id="scn-save-note", role="status")], className="scn-saving")]),
    ])


def table(header_row: list, rows: list, table_id: str) -> dmc.Table:
    return dmc.Table(id=table_id, striped=True, highlightOnHover=True,
                     data={"head": header_row, "body": rows})


def impact_view(run_id: str, lang: str) -> list:
    """Headline figures, the people-by-severity chart and the two impact tables of a run."""
    twin, result = context().twin, result_of(run_id)
    impact = result.impact
    kpis = [html.Div([html.Div(value, className="kpi-value"), html.Div(label, className="kpi-label")],
                     className="kpi") for label, value in sv.headline(impact, lang)]
    warnings = [dmc.Alert(text, title=t("scn_warning", lang), color="orange", className="scn-warning")
                for text in sv.run_warnings(result, lang)]
    warnings += [dmc.Alert(text, color="blue", className="scn-live-note")
                 for text in sv.live_notes(impact, lang, twin.timezone)]
    return [*warnings, html.Div(kpis, className="kpis scn-kpis"),
            html.Div(className="scn-impact-grid", children=[
                dcc.Graph(figure=sv.severity_figure(impact, lang), className="scn-chart",
                          config={"displaylogo": False}),
                html.Div([html.H3(t("scn_units", lang)), html.Div(
                    table(*sv.unit_table(impact, lang), "scn-unit-table"), className="scn-scroll")]),
                html.Div([html.H3(t("scn_facilities", lang)), html.Div(
                    table(*sv.facility_table(impact, twin, lang), "scn-facility-table"),
                    className="scn-scroll")]),
            ])]


# ------------------------------------------------------------------ callbacks

@callback(Output("scn-kind", "value"), Output("scn-name", "value"), Output("scn-lat", "value"),
          Output("scn-lng", "value"), Output("scn-facility", "value"),
          Output("scn-example-state", "data"), Input("scn-example", "value"),
          State("scn-lang", "data"), prevent_initial_call=True)
def _on_example(stem: str | None, lang: str):
    if not stem:
        return (no_update,) * 6
    kind, values, loc, extras = sv.scenario_to_form(sv.examples()[stem])
    loc = loc or {}
    return (kind, sv.in_lang(sv.examples()[stem].name, lang), loc.get("lat"), loc.get("lng"),
            loc.get("facility"), {"kind": kind, "values": values, "extras": extras})


@callback(Output("scn-fields", "children"), Output("scn-facility", "data"),
          Input("scn-kind", "value"), Input("scn-example-state", "data"),
          State("scn-lang", "data"), prevent_initial_call=True)
def _on_kind(kind: str, example: dict | None, lang: str):
    values = example["values"] if example and example["kind"] == kind else {}
    return field_inputs(kind, values, lang), sv.facility_options(context().twin, kind, lang)


@callback(Output("scn-lat", "value", allow_duplicate=True),
          Output("scn-lng", "value", allow_duplicate=True),
          Output("scn-facility", "value", allow_duplicate=True),
          Input("scn-map", "clickInfo"), prevent_initial_call=True)
def _on_map_click(info: dict | None):
    where = sv.click_location(info)
    return (where["lat"], where["lng"], None) if where else (no_update,) * 3


def _location(lat, lng, facility) -> dict | None:
    if facility:
        return {"facility": facility}
    return {"lat": lat, "lng": lng} if lat is not None and lng is not None else None


@callback(Output("scn-current", "data"), Output("scn-runs", "data"), Output("scn-error", "children"),
          Input("scn-run", "n_clicks"),
          State("scn-kind", "value"), State("scn-name", "value"),
          State({"type": "scn-field", "key": ALL}, "value"),
          State({"type": "scn-field", "key": ALL}, "id"), State("scn-lat", "value"),
          State("scn-lng", "value"), State("scn-facility", "value"),
          State("scn-example-state", "data"), State("scn-live", "checked"),
          State("scn-lang", "data"),
          background=True, prevent_initial_call=True,
          progress=[Output("scn-progress", "value"), Output("scn-progress", "animated"),
                    Output("scn-phase", "children")],
          running=[(Output("scn-run", "disabled"), True, False),
                   (Output("scn-progress-box", "style"), SHOWN, HIDDEN)])
def _on_run(set_progress, _clicks, kind, name, values, ids, lat, lng, facility, example, live,
            lang):
    extras = example["extras"] if example and example["kind"] == kind else {}
    try:
        scenario = sv.form_to_scenario(kind, {i["key"]: v for i, v in zip(ids, values, strict=True)},
                                       _location(lat, lng, facility), name or "", extras, lang)
        readings = sv.read_live(context().bus, context().twin) if live and context().bus else None

        def report(phase: int, fraction: float | None) -> None:
            percent, unknown = sv.progress_state(phase, fraction)
            set_progress((percent, unknown, f"{t(sv.PHASES[phase], lang)} · {percent}%"))

        run_id = sv.run_and_store(scenario, context().twin, results.store(context().bus), readings,
                                  report)
    except (ScenarioError, ValueError) as exc:
        return no_update, no_update, dmc.Alert(error_text(str(exc), lang), title=t("scn_error", lang),
                                               color="red")
    return run_id, kept_runs(lang), None


@callback(Output("scn-map", "data"), Output("scn-legend", "children"),
          Output("scn-impact", "children"), Output("scn-time", "max"),
          Output("scn-time", "value"), Output("scn-time", "marks"), Output("scn-time", "disabled"),
          *[Output(f"scn-export-{fmt}", "disabled") for fmt in sx.EXPORTS],
          Output("scn-to-wall", "disabled"), Output("scn-report", "href"),
          Input("scn-current", "data"), State("scn-lang", "data"), prevent_initial_call=True)
def _on_result(run_id: str, lang: str):
    if not run_id:
        raise PreventUpdate
    twin, result = context().twin, result_of(run_id)
    times = sv.frame_times(result)
    last = len(times) - 1
    marks = [{"value": k, "label": sv.time_label(times[k], lang)} for k in sorted({0, last})]
    return (sv.result_map(result, twin, sv.frame_records(result, twin, last)),
            legend_box(planner.legend(result, lang)), impact_view(run_id, lang), max(last, 1), last, marks, last == 0,
            *([False] * len(sx.EXPORTS)), context().bus is None,
            f"/scenarios/{run_id}/report?lang={lang}")


@callback(Output("scn-map", "data", allow_duplicate=True), Output("scn-time-text", "children"),
          Input("scn-time", "value"), State("scn-current", "data"), State("scn-lang", "data"),
          prevent_initial_call=True)
def _on_time(step: int, run_id: str | None, lang: str):
    if not run_id:
        return no_update, no_update
    twin, result = context().twin, result_of(run_id)
    step = min(int(step or 0), result.ds.sizes["time"] - 1)
    patch = Patch()  # only the hazard layer's cells travel, never the basemap
    patch["layers"][sv.FRAME_LAYER_INDEX]["data"] = sv.frame_records(result, twin, step)
    return patch, sv.time_label(sv.frame_times(result)[step], lang)


@callback(Output("scn-tick", "disabled"), Output("scn-play", "children"),
          Input("scn-play", "n_clicks"), State("scn-tick", "disabled"), State("scn-lang", "data"),
          prevent_initial_call=True)
def _on_play(_clicks: int, stopped: bool, lang: str):
    return (not stopped), t("scn_pause" if stopped else "scn_play", lang)


@callback(Output("scn-time", "value", allow_duplicate=True), Input("scn-tick", "n_intervals"),
          State("scn-time", "value"), State("scn-time", "max"), prevent_initial_call=True)
def _on_tick(_n: int, step: int, last: int):
    return (int(step or 0) + 1) % (int(last or 0) + 1)


@callback(Output("scn-compare-a", "data"), Output("scn-compare-b", "data"),
          Output("scn-compare-a", "value"), Output("scn-compare-b", "value"),
          Input("scn-runs", "data"), State("scn-current", "data"),
          State("scn-compare-a", "value"), State("scn-compare-b", "value"),
          prevent_initial_call=True)
def _on_runs(runs: list | None, current: str | None, a: str | None, b: str | None):
    """B: the run just made (else the one chosen, else the first); A: the one chosen, else
    another."""
    runs = runs or []
    ids = [r["value"] for r in runs]
    b = current if current in ids else b if b in ids else (ids[0] if ids else None)
    a = a if a in ids and a != b else next((i for i in ids if i != b), None)
    return runs, runs, a, b


@callback(Output("scn-compare", "children"), Input("scn-compare-a", "value"),
          Input("scn-compare-b", "value"), State("scn-lang", "data"), prevent_initial_call=True)
def _on_compare(a: str | None, b: str | None, lang: str):
    if not a or not b:
        return None
    twin, store = context().twin, results.store(context().bus)
    try:
        ra, rb = store.get(a), store.get(b)
        rows = sv.compare_table(ra, rb, lang) if planner.comparable(ra, rb) else None
    except (KeyError, ScenarioError) as exc:
        return dmc.Alert(error_text(str(exc.args[0]), lang), color="yellow")
    side = [compare_side(key, r, twin, lang) for key, r in (("a", ra), ("b", rb))]
    out = [html.Div(side, className="scn-side-by-side")]
    if rows is None:
        return [dmc.Alert(t("cmp_other_hazard", lang), color="blue"), *out]
    diff = html.Div([maps.map_component("scn-compare-map-diff", tooltip=True,
                                        data=planner.difference_map(ra, rb, twin),
                                        style={"position": "relative", "height": "100%"}),
                     html.Div(legend_box(planner.difference_legend(lang)), className="scn-legend")],
                    className="scn-map small scn-diff")
    return [*out, html.Div([diff, table(*rows, "scn-compare-table")],
                           className="scn-side-by-side")]


def compare_side(key: str, result, twin, lang: str):
    """One run of a comparison: its name and headline above its peak map with its legend."""
    about = planner.side(result, lang)
    return html.Div(className="scn-compare-side", children=[
        html.H3(f"{key.upper()} · {about['name']} · {about['hazard']}"),
        html.Div(" · ".join(f"{label} {value}" for label, value in about["headline"]),
                 className="scn-compare-headline"),
        html.Div([maps.map_component(f"scn-compare-map-{key}", tooltip=True,
                                     data=sv.result_map(result, twin, sv.peak_records(result, twin)),
                                     style={"position": "relative", "height": "100%"}),
                  html.Div(legend_box(planner.legend(result, lang)), className="scn-legend")],
                 className="scn-map small")])


@callback(Output("scn-download", "data"),
          *[Input(f"scn-export-{fmt}", "n_clicks") for fmt in sx.EXPORTS],
          State("scn-current", "data"), State("scn-lang", "data"), prevent_initial_call=True)
def _on_export(*args):
    run_id, lang = args[-2], args[-1]
    if not run_id or not ctx.triggered_id:
        return no_update
    fmt = ctx.triggered_id.removeprefix("scn-export-")
    name, content = sx.export_file(result_of(run_id), context().twin, fmt, run_id, lang)
    return dcc.send_bytes(content, name)


@callback(Output("scn-runs", "data", allow_duplicate=True), Output("scn-save-note", "children"),
          Input("scn-save", "n_clicks"), Input("scn-unsave", "n_clicks"),
          State("scn-current", "data"), State("scn-save-name", "value"),
          State("scn-lang", "data"), prevent_initial_call=True)
def _on_save(_save, _unsave, run_id: str | None, name: str | None, lang: str):
    """Save the current run under a name (kept past new runs), or take it off the saved list."""
    if not run_id or ctx.triggered_id not in ("scn-save", "scn-unsave"):
        return no_update, no_update
    store, user = results.store(context().bus), current_user()
    try:
        if ctx.triggered_id == "scn-save":
            info = store.save(run_id, name or "", by=user.name if user else "")
            note = t("scn_saved", lang).format(sv.in_lang(info.saved_as, lang))
        else:
            store.unsave(run_id)
            note = t("scn_unsaved", lang)
    except results.RunsFull:
        return no_update, t("scn_saved_full", lang).format(results.SAVED_MAX)
    except KeyError:
        return kept_runs(lang), t("scn_run_gone", lang)
    return kept_runs(lang), note


@callback(Output("scn-wall-note", "children"), Input("scn-to-wall", "n_clicks"),
          State("scn-current", "data"), State("scn-lang", "data"), prevent_initial_call=True)
def _on_to_wall(_n, run_id: str, lang: str):
    bus = context().bus
    if not run_id or bus is None:
        return no_update
    user = current_user()
    overlay.publish(bus, overlay.summary(result_of(run_id), context().twin, run_id,
                                         ran_at=results.store(bus).ran_at(run_id),
                                         shown_by=user.name if user else None))
    return t("scn_on_wall", lang)
