"""A printable one-page report of a scenario run (print CSS, A4 landscape): the map of its
hazard classes framed on the footprint over the streets/towns, with its legend; the headline
figures, people per street/town and the affected facilities; the inputs. Plain HTML with an
inline SVG map (no script, no WebGL, so it prints anywhere), served at
/scenarios/<run>/report?lang=zh|en to the users who may open the Scenarios page."""

from __future__ import annotations

import html
import math

import numpy as np
import shapely

from dashboard import scenario_view as sv
from dashboard.i18n import add_labels, name_column, t
from twin import cells as h3cells

CLASS_COLOURS = ["#f5c542", "#f08a28", "#e0412c", "#a01830", "#701020", "#400818"]
WIDTH, HEIGHT, MARGIN = 1000.0, 700.0, 0.15
MAX_CELLS = 3000

add_labels({
    "rep_title": {"zh": "推演报告", "en": "Scenario report"},
    "rep_print": {"zh": "打印 / 存为 PDF", "en": "Print / save as PDF"},
    "rep_inputs": {"zh": "输入参数", "en": "Inputs"},
    "rep_hazard": {"zh": "灾种", "en": "Hazard"},
    "rep_where": {"zh": "地点", "en": "Where"},
    "rep_duration": {"zh": "模拟时长", "en": "Simulated time"},
    "rep_ran": {"zh": "运行时间", "en": "Run at"},
    "rep_run": {"zh": "运行编号", "en": "Run"},
    "rep_classes": {"zh": "危险等级", "en": "Hazard classes"},
    "rep_none": {"zh": "无受影响单元", "en": "Nothing affected"},
    "rep_whatif": {"zh": "推演结果，非实时数据", "en": "What-if result, not live data"},
    "rep_units": {"zh": "各街镇受影响人数", "en": "People affected per street/town"},
    "rep_facilities": {"zh": "受影响设施", "en": "Facilities affected"},
})

CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.35 "Noto Sans CJK SC", "Noto Sans", sans-serif; color: #111; margin: 0;
  background: #fff; }
.page { display: grid; grid-template-columns: 58% 42%; gap: 0 6mm; max-width: 277mm;
  margin: auto; padding: 4mm; }
header { grid-column: 1 / -1; display: flex; justify-content: space-between;
  align-items: baseline; border-bottom: 2px solid #222; margin-bottom: 3mm; }
h1 { font-size: 16pt; margin: 0; } h2 { font-size: 11pt; margin: 3mm 0 1mm; }
.whatif { color: #a01830; font-weight: 700; }
svg { width: 100%; height: auto; border: 1px solid #999; background: #f4f6f8; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
thead:has(th:empty:first-child) { display: none; }
th, td { border-bottom: 1px solid #ccc; padding: 0.6mm 1.5mm; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.kpis { display: flex; gap: 5mm; } .kpi b { display: block; font-size: 14pt; }
.legend span { display: inline-block; width: 3.5mm; height: 3.5mm; margin: 0 1mm 0 3mm;
  vertical-align: middle; border: 1px solid #555; }
button { font-size: 11pt; padding: 2mm 4mm; }
@media print { button { display: none; } .page { padding: 0; } }
"""


def _e(value) -> str:
    return html.escape(str(value))


def frame(lat: np.ndarray, lng: np.ndarray):
    """(lng0, lat1, scale, kx) placing the points' box with a margin into WIDTH x HEIGHT."""
    mid = math.radians(float(np.mean(lat)))
    kx = math.cos(mid)
    w = max(float(lng.max() - lng.min()) * kx, 1e-4)
    h = max(float(lat.max() - lat.min()), 1e-4)
    scale = min(WIDTH / (w * (1 + 2 * MARGIN)), HEIGHT / (h * (1 + 2 * MARGIN)))
    lng0 = float(lng.min()) - (WIDTH / scale - w) / 2 / kx
    lat1 = float(lat.max()) + (HEIGHT / scale - h) / 2
    return lng0, lat1, scale, kx


def _path(geometry, place) -> str:
    parts = []
    for poly in getattr(geometry, "geoms", [geometry]):
        for ring in [poly.exterior, *poly.interiors] if hasattr(poly, "exterior") else []:
            xy = np.asarray(ring.coords)
            x, y = place(xy[:, 0], xy[:, 1])
            parts.append("M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
                         + " Z")
    return " ".join(parts)


def map_svg(result, twin, lang: str) -> str:
    """The map: hazard classes of every affected cell (coarser cells above MAX_CELLS, keeping
    the worst), the streets/towns around them, the source; framed on the footprint."""
    severity = np.clip(result.ds["severity"].values.astype(int), 0, None)
    hit = np.flatnonzero(severity > 0)
    lat, lng = twin.centers
    shown = hit if len(hit) else np.flatnonzero(twin.ds["is_land"].values.astype(bool))
    lng0, lat1, scale, kx = frame(lat[shown], lng[shown])

    def place(x, y):
        return (np.asarray(x) - lng0) * kx * scale, (lat1 - np.asarray(y)) * scale

    box = shapely.box(lng0, lat1 - HEIGHT / scale, lng0 + WIDTH / scale / kx, lat1)
    out = [f'<svg viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
           f'aria-label="{_e(t("rep_classes", lang))}">']
    units = twin.units
    name_col = name_column(units, lang)
    for geometry in units.geometry:
        clipped = geometry.intersection(box)
        if clipped.is_empty:
            continue
        out.append(f'<path d="{_path(clipped, place)}" fill="#e3e8ee" stroke="#8895a5" '
                   'stroke-width="1"/>')
    ids, values = sv.coarsen(twin.cell_ids[hit], severity[hit].astype(float), MAX_CELLS)
    for polygon, value in zip(h3cells.cell_polygons(ids), values, strict=True):
        colour = CLASS_COLOURS[min(int(value), len(CLASS_COLOURS)) - 1]
        out.append(f'<path d="{_path(polygon, place)}" fill="{colour}" fill-opacity="0.85"/>')
    for geometry, name in zip(units.geometry, units[name_col], strict=True):
        point = geometry.representative_point()
        if box.contains(point):
            x, y = place([point.x], [point.y])
            out.append(f'<text x="{x[0]:.0f}" y="{y[0]:.0f}" font-size="13" fill="#334" '
                       f'text-anchor="middle">{_e(name)}</text>')
    attrs = result.ds.attrs
    if "source_lat" in attrs:
        x, y = place([attrs["source_lng"]], [attrs["source_lat"]])
        out.append(f'<circle cx="{x[0]:.1f}" cy="{y[0]:.1f}" r="7" fill="none" stroke="#000" '
                   'stroke-width="2.5"/>')
    return "".join(out) + "</svg>"


def _classes(result, lang: str) -> list[tuple[str, str]]:
    """(name with threshold, colour) of each severity class."""
    from sim.runner import peak_field

    labels = result.impact.get("severity_labels", [])
    try:
        _, _, thresholds, cut = peak_field(result)
        unit = str(result.ds[sv.frame_scale(result).variable].attrs.get("units", ""))
        values = dict(zip(cut, thresholds, strict=True))
    except (KeyError, ValueError):
        values, unit = {}, ""
    unit = {"persons": "", "1": ""}.get(unit, unit)
    out = []
    for k, label in enumerate(labels):
        name = sv.severity_name(label, lang)
        if label in values and "≥" not in name and result.scenario.hazard in (
                "toxic_release", "explosion", "flood"):
            name += f" ≥ {values[label]:g} {unit}".rstrip()
        out.append((name, CLASS_COLOURS[min(k, len(CLASS_COLOURS) - 1)]))
    return out


def _table(header: list, rows: list, numeric_from: int = 1) -> str:
    head = "".join(f'<th class="{"n" if k >= numeric_from else ""}">{_e(h)}</th>'
                   for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(
        f'<td class="{"n" if k >= numeric_from else ""}">'
        f'{_e(f"{v:,}" if isinstance(v, int | float) else v)}</td>'
        for k, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def inputs_rows(result, twin, lang: str) -> list[tuple[str, str]]:
    """(label, value) of what the run was given: hazard, place, duration, each parameter."""
    scenario = result.scenario
    loc = scenario.location
    where = ""
    if loc is not None and loc.facility:
        facilities = twin.facilities.set_index(twin.facilities["id"].astype(str))
        column = name_column(facilities, lang)
        where = str(facilities[column].get(loc.facility, loc.facility))
    elif loc is not None and loc.lat is not None:
        where = f"{loc.lat:.5f}, {loc.lng:.5f}"
    rows = [(t("rep_hazard", lang), t(f"form_{sv.form_kind(scenario)}", lang)),
            (t("rep_where", lang), where),
            (t("rep_duration", lang), sv.time_label(scenario.duration, lang).removeprefix("T+"))]
    for key, value in sorted(scenario.parameters.items()):
        if isinstance(value, dict | list):
            continue  # profiles and tables: in the run's exports
        label = sv._field_label(f"parameters.{key}", lang)
        rows.append((key if label.startswith("parameters.") else label, f"{value}"))
    return rows


def report_html(result, twin, run_id: str, lang: str, ran_at: str = "") -> str:
    """The whole page, in the UI language."""
    impact = result.impact
    name = sv.in_lang(result.scenario.name, lang)
    kpis = "".join(f'<div class="kpi"><b>{_e(v)}</b>{_e(k)}</div>'
                   for k, v in sv.headline(impact, lang))
    legend = "".join(f'<span style="background:{c}"></span>{_e(n)}'
                     for n, c in _classes(result, lang))
    units_header, units_rows = sv.unit_table(impact, lang)
    units_rows = sorted(units_rows, key=lambda r: -r[-1])[:10]
    fac_header, fac_rows = sv.facility_table(impact, twin, lang)
    facts = [(t("rep_run", lang), run_id)] + ([(t("rep_ran", lang), ran_at)] if ran_at else [])
    rows = facts + inputs_rows(result, twin, lang)
    half = (len(rows) + 1) // 2  # two label/value pairs a line: half the height
    inputs = _table(["", "", "", ""], [[*rows[k], *(rows[k + half] if k + half < len(rows)
                                                   else ("", ""))] for k in range(half)], 9)
    return f"""<!DOCTYPE html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head>
<meta charset="utf-8"><title>{_e(t('rep_title', lang))} · {_e(name)}</title>
<style>{CSS}</style></head><body><div class="page">
<header><h1>{_e(t('rep_title', lang))}: {_e(name)}</h1>
<span class="whatif">{_e(t('rep_whatif', lang))}</span>
<button onclick="window.print()">{_e(t('rep_print', lang))}</button></header>
<section>{map_svg(result, twin, lang)}
<div class="legend"><b>{_e(t('rep_classes', lang))}</b>{legend}</div></section>
<section><div class="kpis">{kpis}</div>
<h2>{_e(t('rep_units', lang))}</h2>
{_table(units_header, units_rows) if units_rows else _e(t('rep_none', lang))}
<h2>{_e(t('rep_facilities', lang))}</h2>
{_table(fac_header, fac_rows[:8], 9) if fac_rows else _e(t('rep_none', lang))}
<h2>{_e(t('rep_inputs', lang))}</h2>{inputs}</section></div></body></html>"""


def register_routes(server, result_store, twin_of, ran_text) -> None:
    """GET /scenarios/<run>/report: the report of a kept run to a user who may open the
    Scenarios page (403 otherwise; 404 for a run that is not kept)."""
    from flask import abort, request

    from dashboard.i18n import lang_of
    from dashboard.policy import can_open
    from dashboard.session import current_user

    @server.route("/scenarios/<run_id>/report")
    def scenario_report(run_id: str):
        if not can_open(current_user(), "/scenarios"):
            abort(403)
        lang = lang_of(request.args.get("lang"))
        store = result_store()
        try:
            result = store.get(run_id)
        except KeyError:
            abort(404)
        page = report_html(result, twin_of(), run_id, lang, ran_text(store.ran_at(run_id)))
        return page, 200, {"Content-Type": "text/html; charset=utf-8",
                           "Cache-Control": "private, no-store"}
