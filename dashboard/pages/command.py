"""Command page (video wall): the district map with a chosen layer and the headline figures."""

from __future__ import annotations

import dash_deck
from dash import Input, Output, callback, dcc, html

from dashboard import cards, maps
from dashboard.app import header
from dashboard.context import context
from dashboard.i18n import t

PATH = "/"
LAYERS = ("population", "elevation_m", "road_capacity", "land_use")


def layout(lang: str = "zh", wall: str | None = None, **_query) -> html.Div:
    twin = context().twin
    tiles = [html.Div([html.Div(f"{value:,.0f}", className="kpi-value"),
                       html.Div(t(key, lang), className="kpi-label")], className="kpi",
                      id=f"kpi-{key}") for key, value in cards.kpis(twin).items()]
    return html.Div(className="page command" + (" wall" if wall else ""), children=[
        header(lang, PATH),
        html.Div(tiles, className="kpis"),
        html.Div(className="map-controls", children=[
            html.Label(t("map_layer", lang), htmlFor="layer-pick"),
            dcc.Dropdown(id="layer-pick", value="population", clearable=False,
                         options=[{"label": t(f"layer_{v}", lang), "value": v} for v in LAYERS]),
        ]),
        html.Div(dash_deck.DeckGL(id="command-map", data=map_spec("population"), tooltip=True,
                                  style={"position": "relative", "height": "100%"}),
                 className="map", id="command-map-box"),
    ])


def map_spec(layer: str) -> dict:
    """The map for a chosen layer (pure; the callback below only forwards it)."""
    twin = context().twin
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}: choose one of {', '.join(LAYERS)}")
    return maps.deck(twin, [maps.value_layer(twin, layer, log=layer == "population")])


@callback(Output("command-map", "data"), Input("layer-pick", "value"), prevent_initial_call=True)
def _on_layer(layer: str) -> dict:
    return map_spec(layer)
