"""Enforcement page (执法监督): every department's enforcement cases with their stage deadlines,
the figures the district publishes, on-time rates per department and stage, the supervisor's
flag for review, and the officer's case desk (办案: an officer sees and works their department's
cases only). What it shows comes from `dashboard.enforce_view` and `dashboard.enforce_desk`
(role-checked)."""

from __future__ import annotations

import time

import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import enforce_desk as desk
from dashboard import enforce_view as ev
from dashboard import inputs
from dashboard.case_view import department_names, input_pending
from dashboard.context import context
from dashboard.header import header
from dashboard.i18n import lang_of, t
from dashboard.session import current_user
from layers.loop import procedure as proc
from layers.loop.enforcement import EnforcementStore

PATH = "/enforcement"
INPUTS = {
    "enf-lang.data": inputs.lang, "enf-version.data": inputs.COUNT,
    "enf-tick.n_intervals": inputs.COUNT, "enf-flag.n_clicks": inputs.COUNT,
    "enf-case.value": inputs.optional(inputs.token(r"E[0-9]{1,12}", "an enforcement case id")),
    "enf-note.value": inputs.optional(inputs.text()),
    "enf-desk-case.value": inputs.optional(inputs.token(r"E[0-9]{1,12}",
                                                        "an enforcement case id")),
    "enf-desk-act.n_clicks": inputs.COUNT,
    "enf-desk-amount.value": inputs.optional(lambda v, name: None if v == "" else (
        inputs.token(r"-?[0-9]{0,12}(\.[0-9]{0,6})?", "an amount in yuan")(v, name)
        if isinstance(v, str) else inputs.number(0, desk.MAX_YUAN)(v, name))),
    "enf-desk-note.value": inputs.optional(inputs.text()),
}
CASE_COLS = ("col_id", "col_department", "col_target", "col_stage", "col_stage_deadline",
             "col_fine")


def _store() -> EnforcementStore | None:
    bus = context().bus
    return None if bus is None else EnforcementStore(bus, tz=context().twin.timezone)


def layout(lang: str = "zh", **_query) -> html.Div:
    lang = lang_of(lang)
    user = current_user()
    return html.Div(className="page enforcement", children=[
        header(lang, PATH),
        dcc.Store(id="enf-lang", data=lang), dcc.Store(id="enf-version", data=0),
        dcc.Interval(id="enf-tick", interval=30_000),
        html.Section([html.H3(t("enf_figures", lang)), html.Div(id="enf-figures")],
                     className="card"),
        html.Section([html.H3(t("enf_cases", lang)), html.Div(id="enf-cases")],
                     className="card"),
        html.Section([html.H3(t("enf_desk", lang)),
                      dmc.Select(id="enf-desk-case", label=t("desk_pick", lang), data=[],
                                 searchable=True, clearable=True),
                      html.Div(id="enf-desk-feedback", role="status"),
                      html.Div(id="enf-desk-panel")],
                     className="card", id="enf-desk", hidden=not desk.shows_desk(user)),
        html.Section([html.H3(t("enf_flag", lang)), dmc.Group([
            dmc.Select(id="enf-case", label=t("enf_pick", lang), data=[], searchable=True,
                       clearable=True),
            dmc.TextInput(id="enf-note", label=t("enf_flag_note", lang)),
            dmc.Button(t("enf_flag", lang), id="enf-flag", n_clicks=0)], align="flex-end"),
            html.Div(id="enf-feedback")], className="card", id="enf-flag-card",
            hidden=not ev.shows_flag(user)),
        html.Section([html.H3(t("enf_on_time", lang)), html.Div(id="enf-on-time")],
                     className="card"),
    ])


def _table(rows: list[dict], cols: tuple[str, ...], keys: tuple[str, ...], lang: str,
           table_id: str):
    if not rows:
        return html.P(t("enf_none", lang), className="muted", id=f"{table_id}-empty")
    qr_col = [html.Th(t("col_pay", lang))] if rows and "payment" in rows[0] else []
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in cols] + qr_col))
    body = html.Tbody([html.Tr([html.Td(str(r[k])) for k in keys] + _qr(r),
                               className=" ".join(c for c in ("overdue", "flagged")
                                                  if r.get(c)))
                       for r in rows])
    return html.Table([head, body], className="case-table", id=table_id)


def _qr(row: dict) -> list:
    """The QR code of the payment request while the fine is due (case rows only)."""
    if "payment" not in row:
        return []
    pid = row["payment"]
    return [html.Td(html.Img(src=f"/api/v1/payments/{pid}/qr.svg", className="pay-qr",
                             height=64, alt=pid) if pid else "")]


@callback(Output("enf-figures", "children"), Output("enf-cases", "children"),
          Output("enf-on-time", "children"), Output("enf-case", "data"),
          Output("enf-desk-case", "data"),
          Input("enf-version", "data"), Input("enf-tick", "n_intervals"),
          State("enf-lang", "data"))
def _on_refresh(_version, _tick, lang):
    store, now, user = _store(), time.time(), current_user()
    cases = ev.visible(store.all() if store else [], user)
    p, twin = proc.default(), context().twin
    names = department_names(twin, lang)
    rows = ev.case_rows(sorted(cases, key=lambda c: c.id), p, now, lang, twin.timezone, names)
    figures = dmc.Group([dmc.Paper([dmc.Text(label, size="sm", c="#b3bfd1"),
                                    dmc.Text(value, size="xl", fw=700)], p="sm")
                         for label, value in ev.figures(cases, now, lang)], id="enf-figure-row")
    on_time = _table(ev.on_time_rows(cases, p, now, lang, names),
                     ("col_department", "col_stage", "col_judged", "col_rate"),
                     ("department", "stage", "judged", "rate"), lang, "enf-on-time-table")
    options = [{"value": c.id, "label": f"{c.id} · {c.target_name}"} for c in cases if c.is_open]
    return figures, _table(rows, CASE_COLS, ("id", "department", "target", "stage", "deadline",
                                             "fine"), lang, "enf-case-table"), on_time, options, \
        desk.options(cases, user, p, lang)


@callback(Output("enf-version", "data"), Output("enf-feedback", "children"),
          Input("enf-flag", "n_clicks"), State("enf-case", "value"), State("enf-note", "value"),
          State("enf-version", "data"), State("enf-lang", "data"), prevent_initial_call=True)
def _on_flag(_clicks, case_id, note, version, lang):
    store = _store()
    message = ev.flag(store, current_user(), case_id, note, lang) if store else t("enf_none", lang)
    return (version or 0) + 1, message


@callback(Output("enf-desk-panel", "children"), Input("enf-desk-case", "value"),
          Input("enf-version", "data"), Input("enf-tick", "n_intervals"),
          State("enf-lang", "data"), State({"type": "enf-desk-amount", "case": ALL}, "value"),
          State({"type": "enf-desk-note", "case": ALL}, "value"))
def _on_desk(case_id, _version, _tick, lang, amounts=None, notes=None):
    """The picked case's panel: redrawn after every move and on the timer (a move made
    elsewhere shows up), except while the officer has typed a fine or a note in it."""
    if input_pending(ctx.triggered_id == "enf-tick", notes, amounts):
        return no_update
    store, twin = _store(), context().twin
    if store is None:
        return None
    return desk.panel(store, current_user(), case_id, proc.default(), time.time(), twin.timezone,
                      lang, department_names(twin, lang))


@callback(Output("enf-version", "data", allow_duplicate=True),
          Output("enf-desk-feedback", "children"),
          Input({"type": "enf-desk-act", "case": ALL, "action": ALL}, "n_clicks"),
          State({"type": "enf-desk-amount", "case": ALL}, "value"),
          State({"type": "enf-desk-note", "case": ALL}, "value"),
          State("enf-version", "data"), State("enf-lang", "data"), prevent_initial_call=True)
def _on_desk_act(_clicks, _amounts, _notes, version, lang):
    store = _store()
    if store is None or not ctx.triggered:
        return no_update, no_update
    done = desk.press(store, current_user(), ctx.triggered_id, ctx.triggered[0]["value"],
                      ctx.states_list[0], ctx.states_list[1], proc.default(), lang)
    if done is None:
        return no_update, no_update
    moved, message = done
    shown = dmc.Text(message, c="green" if moved else "red", size="sm",
                     className="desk-done" if moved else "desk-refused")
    return ((version or 0) + 1 if moved else no_update), shown
