"""The wall's panels as plain data and figures: the alert ticker with places, events per minute
per channel, the day's case figures, open and overdue cases per street/town, clustered case
markers and the legend of the live layer.

Pure functions of (twin, records, arrays, language, city time zone); the Command page only lays
them out. Every label is in the UI language and every time in the city's time zone.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import shapely

from dashboard import maps, zoomlevels
from dashboard.case_view import category_label, duration_text
from dashboard.i18n import add_labels, name_column, t, unit_names
from layers.loop.records import Alert
from twin import cells as h3cells
from twin.settings import city_time

KINDS = ("iot", "video", "incident")
KIND_COLORS = {"iot": "#5ec8e5", "video": "#f5c542", "incident": "#ff7a5c"}
OPEN_RGBA = [245, 190, 40, 235]
LATE_RGBA = [235, 45, 45, 245]
TICKER_ROWS = 8

add_labels({
    "wall_kind_iot": {"zh": "物联感知", "en": "IoT"},
    "wall_kind_video": {"zh": "视频", "en": "Video"},
    "wall_kind_incident": {"zh": "热线/网格上报", "en": "Hotline and grid reports"},
    "wall_events_axis": {"zh": "事件/分钟（对数）", "en": "events/min (log)"},
    "wall_day_opened": {"zh": "今日新增", "en": "Opened today"},
    "wall_day_resolved": {"zh": "今日办结", "en": "Resolved today"},
    "wall_day_overdue": {"zh": "当前超期", "en": "Overdue now"},
    "wall_day_rate": {"zh": "今日案件办结率", "en": "Today's cases closed"},
    "wall_choropleth_note": {"zh": "颜色：在办案件数；括号内：超期", "en":
                             "colour: open cases; in brackets: overdue"},
    "wall_open_cases": {"zh": "在办案件", "en": "open cases"},
    "wall_ago": {"zh": "{}前", "en": "{} ago"},
    "wall_sev": {"zh": "{}级", "en": "L{}"},
    "wall_per_hex": {"zh": "每个六边形约 {} km²（H3 第 {} 级）", "en":
                     "per hexagon of ~{} km² (H3 level {})"},
    "wall_legend_open": {"zh": "在办案件（数字：聚合数量）", "en": "Open cases (number: how many)"},
    "wall_legend_late": {"zh": "含超期案件", "en": "Some overdue"},
    **{f"wall_w_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "5m": ("近5分钟", "last 5 min"), "1h": ("近1小时", "last hour"),
        "24h": ("近24小时", "last 24 h")}.items()},
    "unit_events": {"zh": "件", "en": "events"},
    "unit_detections": {"zh": "次识别", "en": "detections"},
})
METRIC_UNITS = {"water_level_m": "m", "rain_mm_h": "mm/h", "pm25": "µg/m³", "co_ppm": "ppm",
                "temp_c": "°C", "smoke": ""}


def _place_names(twin, lat: np.ndarray, lng: np.ndarray, lang: str) -> list[str]:
    """'street/town · grid' of points (empty where outside the twin)."""
    pos = twin.locate(np.asarray(lat, float), np.asarray(lng, float))
    grids = twin.grids
    names = unit_names(twin, lang)
    grid_ids = dict(zip(grids["grid"], grids["id"], strict=True)) if "grid" in grids else {}
    out = []
    for p in pos.tolist():
        if p < 0:
            out.append("")
            continue
        parts = [names.get(int(twin.ds["unit"].values[p])),
                 grid_ids.get(int(twin.ds["grid"].values[p]))]
        out.append(" · ".join(str(x) for x in parts if x))
    return out


def ticker(alerts: list[Alert], twin, now: float, lang: str, tz: str,
           rows: int = TICKER_ROWS) -> list[dict]:
    """The alert ticker: the most severe first, then the newest; each line with its place
    (street/town, grid), category, severity, age and time in the city's time zone `tz`."""
    if not alerts:
        return []
    chosen = sorted(alerts, key=lambda a: (-int(a.severity), -float(a.ts), a.id or ""))[:rows]
    places = _place_names(twin, np.array([a.lat for a in chosen]),
                          np.array([a.lng for a in chosen]), lang)
    return [{"id": a.id or "", "time": city_time(a.ts, tz).strftime("%H:%M"),
             "age": t("wall_ago", lang).format(duration_text(max(now - a.ts, 0), lang)),
             "category": category_label(a.category, lang), "severity": int(a.severity),
             "severity_text": t("wall_sev", lang).format(int(a.severity)), "place": place}
            for a, place in zip(chosen, places, strict=True)]


def day_start(now: float, tz: str) -> float:
    """Epoch seconds of the last midnight in the city's time zone."""
    local = city_time(now, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def day_tiles(figures: dict[str, int]) -> dict[str, float | None]:
    """The day's tiles: opened, resolved, overdue now and the share of today's cases closed
    (None before the first case of the day)."""
    opened = figures["opened"]
    rate = None if not opened else 100.0 * (opened - figures["still_open"]) / opened
    return {"wall_day_opened": opened, "wall_day_resolved": figures["resolved"],
            "wall_day_overdue": figures["overdue"], "wall_day_rate": rate}


def events_series(totals: dict[int, dict[str, int]], first: int, last: int) -> dict:
    """Per-minute events of each kind from minute `first` to `last` (0 where none)."""
    minutes = np.arange(first, last + 1)
    return {"minutes": minutes, **{k: np.array([totals.get(int(m), {}).get(k, 0)
                                                for m in minutes]) for k in KINDS}}


def _figure_layout(fig: go.Figure, font_px: float, **more) -> go.Figure:
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font={"size": font_px, "color": "#e6e9ef"},
                      margin={"l": font_px * 3.2, "r": font_px, "t": font_px * 0.6,
                              "b": font_px * 2.2}, autosize=True, **more)
    return fig


def events_figure(series: dict, lang: str, tz: str, font_px: float = 14.0) -> go.Figure:
    """Events per minute of each channel over the window, one line each (log scale: video
    counts thousands a minute, the hotline a few)."""
    times = [city_time(int(m) * 60, tz).replace(tzinfo=None) for m in series["minutes"]]
    fig = go.Figure()
    for kind in KINDS:
        y = np.where(series[kind] > 0, series[kind], np.nan)
        fig.add_scatter(x=times, y=y, name=t(f"wall_kind_{kind}", lang), mode="lines",
                        line={"color": KIND_COLORS[kind], "width": max(1.5, font_px / 8)},
                        connectgaps=False,
                        hovertemplate="%{x|%H:%M} %{y:,.0f}<extra>%{fullData.name}</extra>")
    _figure_layout(fig, font_px, legend={"orientation": "h", "y": 1.0, "yanchor": "bottom",
                                         "x": 0, "font": {"size": font_px}})
    fig.update_yaxes(type="log", title={"text": t("wall_events_axis", lang),
                                        "font": {"size": font_px * 0.9}}, gridcolor="#263040")
    fig.update_xaxes(tickformat="%H:%M", gridcolor="#263040")
    return fig


def unit_case_counts(twin, points: dict, now: float) -> tuple[np.ndarray, np.ndarray]:
    """(open, overdue) cases per street/town number (index = unit)."""
    n = int(twin.ds["unit"].values.max()) + 1 if len(twin) else 0
    if not len(points["id"]) or n <= 0:
        return np.zeros(max(n, 0), int), np.zeros(max(n, 0), int)
    pos = twin.locate(points["lat"], points["lng"])
    unit = np.where(pos >= 0, twin.ds["unit"].values[np.maximum(pos, 0)], -1)
    late = np.nan_to_num(points["deadline"], nan=np.inf) < now
    keep = unit >= 0
    return (np.bincount(unit[keep], minlength=n),
            np.bincount(unit[keep], weights=late[keep], minlength=n).astype(int))


def choropleth_figure(twin, open_n: np.ndarray, late_n: np.ndarray, lang: str,
                      font_px: float = 14.0) -> go.Figure:
    """Streets/towns filled by their open cases, the count (and overdue ones) on each; drawn as
    plain polygons so it needs no map tiles."""
    units = twin.units
    column = name_column(units, lang)
    top = float(max(open_n.max() if len(open_n) else 0, 1))
    fig = go.Figure()
    for _, row in units.iterrows():
        u = int(row["unit"])
        n, late = (int(open_n[u]), int(late_n[u])) if u < len(open_n) else (0, 0)
        rgb = maps.colors(np.array([n]), 0.0, top)[0][:3]
        geom = row.geometry.simplify(0.002)
        for poly in shapely.get_parts(geom):
            x, y = poly.exterior.xy
            fig.add_scatter(x=list(x), y=list(y), fill="toself", mode="lines",
                            fillcolor=f"rgba({rgb[0]},{rgb[1]},{rgb[2]},0.85)",
                            line={"color": "#8d9bb3", "width": 1}, showlegend=False,
                            hoverinfo="text", text=f"{row[column]}: {n} ({late})")
        point = geom.representative_point()
        fig.add_scatter(x=[point.x], y=[point.y], mode="text", text=[f"{n} ({late})" if late
                                                                    else str(n)],
                        textfont={"size": font_px * 0.8, "color": "#ffffff"}, showlegend=False,
                        hoverinfo="skip")
    fig.add_scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                    marker={"color": [0, top], "cmin": 0, "cmax": top, "showscale": True,
                            "colorscale": [[i / (len(maps.RAMP) - 1),
                                            f"rgb({r:.0f},{g:.0f},{b:.0f})"]
                                           for i, (r, g, b) in enumerate(maps.RAMP)],
                            "colorbar": {"title": {"text": t("wall_open_cases", lang),
                                                   "font": {"size": font_px * 0.8}},
                                         "tickfont": {"size": font_px * 0.8},
                                         "thickness": font_px * 0.8}})
    _figure_layout(fig, font_px)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0})
    fig.update_xaxes(visible=False)
    mid_lat = (units.total_bounds[1] + units.total_bounds[3]) / 2 if len(units) else 0.0
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / np.cos(np.radians(mid_lat)))
    return fig


def cluster_level(level: int, base: int) -> int:
    """The H3 level case markers gather at: two levels coarser than the live layer's."""
    return int(np.clip(level - 2, 5, base))


def case_clusters(points: dict, now: float, level: int) -> list[dict]:
    """Open cases gathered per H3 cell of `level`: position (their mean), how many, how many
    overdue, red when any is overdue."""
    if not len(points["id"]):
        return []
    cells, unique = zoomlevels.cluster(points["lat"], points["lng"], level)
    idx = np.searchsorted(unique, cells)
    ok = cells != 0
    n = np.bincount(idx[ok], minlength=len(unique))
    late = np.bincount(idx[ok], weights=(np.nan_to_num(points["deadline"], nan=np.inf)
                                         < now)[ok], minlength=len(unique)).astype(int)
    lat = np.bincount(idx[ok], weights=points["lat"][ok], minlength=len(unique)) / np.maximum(n, 1)
    lng = np.bincount(idx[ok], weights=points["lng"][ok], minlength=len(unique)) / np.maximum(n, 1)
    keep = np.flatnonzero(n)
    return [{"position": [round(float(lng[i]), 6), round(float(lat[i]), 6)], "n": int(n[i]),
             "late": int(late[i]), "label": str(int(n[i])) if n[i] > 1 else "",
             "r": round(250.0 * float(np.sqrt(n[i])), 1),
             "color": LATE_RGBA if late[i] else OPEN_RGBA} for i in keep]


def case_layers(records: list[dict], font_px: float = 14.0) -> list[dict]:
    """Clustered case markers: a circle growing with the count, the count written on it."""
    dots = {"@@type": "ScatterplotLayer", "id": "cases", "data": records,
            "getPosition": "@@=position", "getFillColor": "@@=color",
            "getRadius": "@@=r", "radiusMinPixels": font_px * 0.45,
            "radiusMaxPixels": font_px * 2.6, "stroked": True,
            "getLineColor": [255, 255, 255, 255], "lineWidthMinPixels": max(1, font_px / 10),
            "pickable": True}
    counts = {"@@type": "TextLayer", "id": "case-counts", "data": records,
              "getPosition": "@@=position", "getText": "@@=label", "getSize": font_px * 0.85,
              "getColor": [10, 12, 16, 255], "fontWeight": 700, "billboard": True,
              "getTextAnchor": "middle", "getAlignmentBaseline": "center"}
    return [dots, counts]


def layer_unit(layer: str, lang: str) -> str:
    """The unit of a live layer's values."""
    parts = layer.split(".")
    if parts[-1] == "count":
        return t("unit_detections" if parts[0] == "video" and len(parts) == 3 else "unit_events",
                 lang)
    return METRIC_UNITS.get(parts[1], "")


def legend(layer_name: str, layer: str, window_text: str, scale: list[float], level: int,
           lang: str) -> dict:
    """What the live layer's legend says: name, window and unit, the colour ramp's stops with
    their values, and the size of a hexagon at the level shown."""
    lo, hi = float(scale[0]), float(scale[1])
    stops = [{"value": lo + (hi - lo) * i / (len(maps.RAMP) - 1),
              "rgb": [int(c) for c in maps.RAMP[i]]} for i in range(len(maps.RAMP))]
    area = h3cells.hex_area_km2(level)
    area_text = f"{area:.2g}" if area < 10 else f"{area:,.0f}"
    return {"title": f"{layer_name} · {window_text}", "unit": layer_unit(layer, lang),
            "stops": stops, "low": lo, "high": hi,
            "note": t("wall_per_hex", lang).format(area_text, level)}


def number(value: float) -> str:
    """A legend or tile number: no decimals from 10 up, two significant digits below."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def clock_now(now: float, tz: str) -> str:
    """The wall's clock: date and time in the city's time zone."""
    return city_time(now, tz).strftime("%Y-%m-%d %H:%M")


def minute_range(now: float, hours: float = 24.0) -> tuple[int, int]:
    """The minutes (epoch // 60) of the last `hours`, up to the current one."""
    last = int(now // 60)
    return last - int(hours * 60) + 1, last

