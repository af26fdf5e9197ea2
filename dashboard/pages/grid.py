"""Grid page: pick a street/town and a grid; the card shows residents and what is in it, and the
grid's open cases with the actions the grid manager may do (accept, on scene, resolve).

A grid manager only gets their own grids in the pickers, and every callback refuses (403) any
other grid or case, also when called directly on the callback endpoint. Laid out for a phone too.
"""

from __future__ import annotations

import time

import dash_deck
import dash_mantine_components as dmc
import numpy as np
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import cards, maps
from dashboard import case_view as cv
from dashboard.app import header
from dashboard.auth import can_see_grid, current_user, require, visible_grids
from dashboard.context import context
from dashboard.i18n import add_labels, t
from layers.cases import CaseError

PATH = "/grid"

add_labels({
    "grid_cases": {"zh": "本网格在办案件", "en": "Open cases in this grid"},
    "no_grids": {"zh": "您没有可查看的网格", "en": "You have no grid to look at"},
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


def chosen_grid(grid: str | None) -> int | None:
    """The grid asked for when the user may see it, else the first grid they may see."""
    if grid is not None and str(grid).isdigit() and can_see_grid(current_user(), int(grid)):
        return int(grid)
    options = _grid_options(None)
    return int(options[0]["value"]) if options else None


def layout(lang: str = "zh", grid: str | None = None, **_query) -> html.Div:
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
            html.Label(t("pick_unit", lang), htmlFor="unit-pick"),
            dcc.Dropdown(id="unit-pick", options=_unit_options(lang), value=unit,
                         clearable=False),
            html.Label(t("pick_grid", lang), htmlFor="grid-pick"),
            dcc.Dropdown(id="grid-pick", options=_grid_options(unit), value=chosen,
                         clearable=False),
        ]),
        html.Div(className="grid-body", children=[
            html.Div(id="grid-card", className="card", children=card_view(chosen, lang)),
            html.Section(className="card grid-cases", children=[
                html.H3(t("grid_cases", lang)), html.Div(id="grid-feedback"),
                html.Div(id="grid-cases")]),
            html.Div(dash_deck.DeckGL(id="grid-map", data=grid_map(chosen), tooltip=True,
                                      style={"position": "relative", "height": "100%"}),
                     className="map small"),
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


def grid_map(grid: int | None) -> dict:
    """The grid's cells coloured by residents, over the basemap."""
    twin = context().twin
    if grid is None:
        return maps.deck(twin, [])
    cells = np.flatnonzero(twin.ds["grid"].values == grid)
    pop = twin.ds["population"].values[cells]
    layer = {"@@type": "H3HexagonLayer", "id": "grid-cells", "getHexagon": "@@=hex",
             "getFillColor": "@@=c", "pickable": True, "stroked": False,
             "data": maps.hexagon_records(twin.cell_ids[cells], pop, maps.colors(pop))}
    return maps.deck(twin, [layer], focus=cells)


def cases_view(grid: int, lang: str) -> list:
    """The grid's open cases as cards with their countdown and the user's actions."""
    store, user = cv.case_store(), current_user()
    if store is None:
        return [html.P(t("cases_no_bus", lang), className="muted")]
    now = time.time()
    cases = cv.open_cases_of_grid(store, user, grid)
    if not cases:
        return [html.P(t("cases_none", lang), className="muted", id="grid-no-cases")]
    out = []
    for case in sorted(cases, key=lambda c: c.get("deadline") or float("inf")):
        clock = cv.countdown(case, now, lang)
        out.append(html.Div(className="case-card" + (" overdue" if clock["overdue"] else ""),
                            id=f"grid-case-{case['id']}", children=[
            html.Div([html.B(case["id"]), " ", case.get("title") or ""], className="case-title"),
            dmc.Group([cv.status_badge(case["status"], lang, clock["overdue"]),
                       html.Span(clock["text"], className="countdown")], gap="xs"),
            cv.action_panel(case, user, lang, "grid")]))
    return out


@callback(Output("grid-pick", "options"), Output("grid-pick", "value"),
          Input("unit-pick", "value"), prevent_initial_call=True)
def _on_unit(unit: int):
    options = _grid_options(unit)
    return options, (options[0]["value"] if options else None)


@callback(Output("grid-card", "children"), Output("grid-map", "data"),
          Input("grid-pick", "value"), State("grid-lang", "data"), prevent_initial_call=True)
def _on_grid(grid: int, lang: str):
    require(can_see_grid(current_user(), grid), f"grid {grid}")
    return card_view(grid, lang), grid_map(grid)


@callback(Output("grid-cases", "children"), Input("grid-pick", "value"),
          Input("grid-version", "data"), Input("grid-tick", "n_intervals"),
          State("grid-lang", "data"))
def _on_cases(grid: int, _version, _tick, lang: str):
    return cases_view(grid, lang) if grid is not None else []


@callback(Output("grid-version", "data"), Output("grid-feedback", "children"),
          Input({"type": "grid-act", "action": ALL, "case": ALL}, "n_clicks"),
          State({"type": "grid-note", "case": ALL}, "value"), State("grid-version", "data"),
          State("grid-lang", "data"), prevent_initial_call=True)
def _on_act(_clicks, _notes, version, lang):
    pressed = cv.clicked_action(ctx.triggered_id, ctx.triggered[0]["value"])
    if pressed is None:
        return no_update, no_update
    case_id, action = pressed
    note = cv.note_for(ctx.states_list[0], case_id)
    try:
        cv.act(cv.case_store(), current_user(), case_id, action, note)
    except (CaseError, cv.NoteRequired) as exc:
        return no_update, dmc.Alert(str(exc), color="red", className="act-error")
    return (version or 0) + 1, dmc.Text(t("case_done", lang).format(f"{case_id} "
                                                                f"{t(f'action_{action}', lang)}"),
                                        c="green", size="sm")
