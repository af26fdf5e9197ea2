"""Grid page: pick a street/town and a grid; the card shows residents and what is in it."""

from __future__ import annotations

import dash_deck
import numpy as np
from dash import Input, Output, State, callback, dcc, html

from dashboard import cards, maps
from dashboard.app import header
from dashboard.context import context
from dashboard.i18n import t

PATH = "/grid"


def layout(lang: str = "zh", grid: str | None = None, **_query) -> html.Div:
    twin = context().twin
    first = int(twin.grids["grid"].iloc[0]) if len(twin.grids) else None
    chosen = int(grid) if grid is not None and str(grid).isdigit() else first
    unit = int(twin.grids.loc[twin.grids["grid"] == chosen, "unit"].iloc[0]) if chosen is not None else None
    return html.Div(className="page grid", children=[
        header(lang, PATH),
        dcc.Store(id="grid-lang", data=lang),
        html.Div(className="pickers", children=[
            html.Label(t("pick_unit", lang), htmlFor="unit-pick"),
            dcc.Dropdown(id="unit-pick", options=cards.unit_options(twin, lang), value=unit,
                         clearable=False),
            html.Label(t("pick_grid", lang), htmlFor="grid-pick"),
            dcc.Dropdown(id="grid-pick", options=cards.grid_options(twin, unit), value=chosen,
                         clearable=False),
        ]),
        html.Div(className="grid-body", children=[
            html.Div(id="grid-card", className="card", children=card_view(chosen, lang)),
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


@callback(Output("grid-pick", "options"), Output("grid-pick", "value"),
          Input("unit-pick", "value"), prevent_initial_call=True)
def _on_unit(unit: int):
    options = cards.grid_options(context().twin, unit)
    return options, (options[0]["value"] if options else None)


@callback(Output("grid-card", "children"), Output("grid-map", "data"),
          Input("grid-pick", "value"), State("grid-lang", "data"), prevent_initial_call=True)
def _on_grid(grid: int, lang: str):
    return card_view(grid, lang), grid_map(grid)
