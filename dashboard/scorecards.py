"""The departments' and grids' scorecards (在线考核) as charts: on-time acceptance and
resolution per department or grid (layers.loop.scorecard computes them)."""

from __future__ import annotations

import plotly.graph_objects as go

import dashboard.case_view  # noqa: F401 - the score_* labels
from dashboard.i18n import t


def scorecard_rows(table, keep: set[str] | None = None, top: int = 15) -> list[dict]:
    """Scorecard records (layers.loop.scorecard.to_records), only the keys in `keep` when given."""
    from layers.loop.scorecard import to_records

    rows = to_records(table)
    if keep is not None:
        rows = [r for r in rows if str(r["key"]) in keep]
    return rows[:top]


def scorecard_figure(rows: list[dict], lang: str, names: dict[str, str] | None = None,
                     empty: str = "cases_none") -> go.Figure:
    """Grouped bars: on-time acceptance and resolution (%) per department or grid, the number
    received beside each name; the label `empty` written across when there are no rows."""
    names = names or {}
    keys = [f"{names.get(str(r['key']), str(r['key']))} ({r['received']})" for r in rows]
    fig = go.Figure()
    for column, label in (("accepted_on_time", "score_accepted"),
                          ("resolved_on_time", "score_resolved")):
        values = [None if r[column] is None else 100 * r[column] for r in rows]
        fig.add_bar(x=keys, y=values, name=t(label, lang),
                    customdata=[r["received"] for r in rows],
                    hovertemplate="%{x}: %{y:.0f}% (" + t("score_received", lang)
                    + " %{customdata})<extra></extra>")
    fig.update_layout(template="plotly_dark", barmode="group", height=280,
                      margin={"l": 40, "r": 10, "t": 10, "b": 60}, yaxis={"range": [0, 100],
                                                                          "ticksuffix": "%"},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      legend={"orientation": "h", "y": 1.12})
    if not rows:
        fig.update_xaxes(visible=False)
        fig.add_annotation(text=t(empty, lang), showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font={"size": 15, "color": "#9fb4d0"})
    return fig
