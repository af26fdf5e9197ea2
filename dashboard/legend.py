"""A map legend as Dash components, from a plain legend dict: title, colour ramp with its ends,
and classes (swatch, name, value). Shared by the pages that draw legends over a deck.gl map."""

from __future__ import annotations

from dash import html


def legend_box(legend: dict) -> list:
    """A map legend (e.g. `dashboard.planner.legend`): title, colour ramp, classes with their
    values."""
    out = [html.Div(legend["title"], className="legend-title")]
    if legend.get("ramp"):
        ramp = ", ".join(f"rgb({r},{g},{b})" for r, g, b in legend["ramp"])
        out += [html.Div(className="legend-ramp",
                         style={"background": f"linear-gradient(to right, {ramp})"}),
                html.Div([html.Span(legend["low"]), html.Span(legend["high"])],
                         className="legend-scale")]
    out += [html.Div([html.Span(className="swatch", style={
        "background": "rgb({},{},{})".format(*c["rgb"])}), f"{c['name']} {c['value']}".strip()],
        className="legend-class") for c in legend.get("classes", [])]
    return out
