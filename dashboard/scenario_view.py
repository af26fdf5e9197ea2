"""What the Scenarios page shows, as pure functions: form <-> scenario, frames, tables, exports.

The page's callbacks only move values between the browser and these functions, so everything a
planner sees (validation messages, the animated map, the impact tables, the comparison, the
exported files) is unit-tested here. Forms, severity names and legends come from sim's hazard
registry (`sim.hazards`): each hazard module declares its forms and classes, so a new hazard
appears here without a line changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashboard import maps
from dashboard.i18n import LABELS, add_labels, name_column, t
from dashboard.sim_messages import error_text
from sim import Result, Scenario, ScenarioError, hazards
from sim.hazards.base import Field
from sim.runner import peak_field
from twin import cells as h3cells
from twin.durations import UNITS, in_unit

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "scenarios"
MAX_FRAME_CELLS = 4000  # above this a frame is drawn on coarser H3 cells (bounded payload)

# form kind -> (sim hazard, fields), in display order; the two flood forms share the flood model
FORMS: dict[str, tuple[str, tuple[Field, ...]]] = {
    kind: (hazard.name, form.fields) for kind, (hazard, form) in hazards.forms().items()}

_LABELS = {  # key: (zh, en)
    "field_duration": ("模拟时长", "Duration"), "field_output_every": ("输出间隔", "Output every"),
    "field_location": ("位置", "Location"), "unit_s": ("秒", "s"), "unit_min": ("分钟", "min"),
    "unit_h": ("小时", "h"), "unit_d": ("天", "days"),
    "err_empty": ("未填写：请输入数值", "is empty: enter a number"),
    "err_location": ("请在地图上点击或选择设施", "click the map or choose a facility"),
    "sev_total": ("合计", "Total"), "col_unit": ("街镇", "Street / town"),
    "col_facility": ("设施", "Facility"), "col_kind": ("类型", "Kind"),
    "col_severity": ("影响等级", "Severity"), "col_measure": ("指标", "Measure"),
    "kpi_people_affected": ("受影响人口", "People affected"),
    "kpi_facilities_affected": ("受影响设施", "Facilities affected"),
    "kpi_roads_cut": ("道路中断单元", "Road cells cut"),
    "people_by_severity": ("各影响等级人口", "People by severity"),
    "err_other_twin": ("两次结果不在同一孪生体上，无法比较", "the two results are on different twins: compare runs on the same twin"),
    "err_other_hazard": ("只能比较同一灾种的结果", "the two results are of different hazards: compare runs of the same hazard"),
    "phase_simulate": ("模拟计算中", "Simulating"), "phase_store": ("保存结果", "Saving the result"),
    "phase_draw": ("生成地图与表格", "Drawing map and tables"),
    "warn_oscillation": (
        "数值振荡：水面呈棋盘状起伏（最多 {share:.0%} 的深水相邻面对，幅度达 {size:.2f} m），"
        "或有 {spill:.3g} m³ 的水越过高于其能量水头的堰顶。此结果不可信：请减小 theta 或 alpha 后重算。",
        "Numerical oscillation: the water surface checkerboards (up to {share:.0%} of deep face "
        "pairs, by up to {size:.2f} m) or {spill:.3g} m³ of water crossed crests above its energy "
        "head. Do not trust this result: rerun with a lower theta or alpha."),
    "live_weather": (
        "实时气象：风自 {wind_from:.0f}° 吹来，风速 {speed:.1f} m/s，大气稳定度 {cls}（{method}），"
        "取自 {km:.1f} km 外的气象站，读数截至 {time}（城市时间）。",
        "Live weather: wind from {wind_from:.0f}° at {speed:.1f} m/s, stability class {cls} "
        "({method}), from the weather station {km:.1f} km away, readings as of {time} (city time)."),
    "method_turner": ("特纳法", "Turner's method"),
    "method_neutral": ("无云量读数，取中性", "no cloud reading: neutral"),
}
for _hazard in hazards.all_hazards():  # the registry's own names: forms, fields, figures
    _LABELS.update({f"form_{f.kind}": (f.zh, f.en) for f in _hazard.forms})
    _LABELS.update({f"field_{x.name}": (x.zh, x.en) for f in _hazard.forms for x in f.fields
                    if x.zh})
    _LABELS.update({f"kpi_{x.key}": (x.zh, x.en) for x in _hazard.figures})
add_labels({key: {"zh": zh, "en": en} for key, (zh, en) in _LABELS.items()})
KIND_NAMES = {"hospital": ("医院", "Hospital"), "school": ("学校", "School"),
              "shelter": ("避难场所", "Shelter"), "hazchem_site": ("危化品企业", "Hazchem site"),
              "fire_station": ("消防站", "Fire station")}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def severity_name(label: str, lang: str) -> str:
    """A severity class label of sim (e.g. 'AEGL-2') in the UI language."""
    return hazards.severity_name(label, lang)


def in_lang(name: str, lang: str) -> str:
    """The part of a bilingual 'zh / en' name for the UI language (the whole name otherwise)."""
    parts = [p.strip() for p in str(name).split(" / ")]
    return parts[-1] if lang == "en" and len(parts) == 2 else parts[0]


# ------------------------------------------------------------------ form <-> scenario

def fields(kind: str) -> tuple[Field, ...]:
    """The fields of a hazard form; a KeyError names the known forms."""
    if kind not in FORMS:
        raise KeyError(f"unknown hazard form {kind!r}: choose one of {', '.join(FORMS)}")
    return FORMS[kind][1]


def form_kind(scenario: Scenario) -> str:
    """Which form shows a scenario (a flood with a storm tide is a storm-tide form)."""
    return hazards.get(scenario.hazard).form_of(scenario.params)


def _field_label(key: str, lang: str) -> str:
    name = key.rsplit(".", 1)[-1]
    return t(f"field_{name}", lang) if f"field_{name}" in LABELS else key


def _name_fields(message: str, lang: str) -> str:
    """Prefix each `parameters.x` / `duration` path of a sim error with the form's label."""
    def label(m: re.Match) -> str:
        return f"{_field_label(m.group(0), lang)} ({m.group(0)})"

    return re.sub(r"\b(parameters\.[a-z_0-9.]+|duration|output_every|location)\b", label, message)


def form_to_scenario(kind: str, values: dict, location: dict | None, name: str = "",
                     extras: dict | None = None, lang: str = "zh") -> Scenario:
    """A validated scenario from a form; ScenarioError names the field (label and path).

    `values` maps field keys to numbers/strings (None = empty); `location` is {lat, lng} or
    {facility}; `extras` are parameters the form has no field for (e.g. an example's hyetograph).
    """
    hazard, form = hazards.forms()[kind] if kind in FORMS else (None, None)
    spec = fields(kind)
    data: dict = {"name": name.strip() or t(f"form_{kind}", lang), "hazard": hazard.name,
                  "parameters": dict(extras or {})}
    for f in spec:
        value = values.get(f.key)
        if value is None or value == "":
            if not f.key.startswith("parameters."):  # parameters: the model says if required
                raise ScenarioError(f"{_field_label(f.key, lang)} ({f.key}) {t('err_empty', lang)}")
            continue
        if f.key.startswith("parameters."):
            data["parameters"][f.name] = value
        else:
            data[f.key] = f"{value}{f.unit}"  # read by the one duration parser
    if location:
        data["location"] = location
    elif form.needs_location:
        raise ScenarioError(f"{t('field_location', lang)} (location): {t('err_location', lang)}")
    try:
        return Scenario.parse(data, source=data["name"])
    except ScenarioError as exc:
        raise ScenarioError(error_text(_name_fields(str(exc), lang), lang)) from None


def scenario_to_form(scenario: Scenario) -> tuple[str, dict, dict | None, dict]:
    """(form kind, field values, location, extras) that reproduce a scenario in the form."""
    kind = form_kind(scenario)
    params = dict(scenario.parameters)
    values = {}
    for f in fields(kind):
        if f.key.startswith("parameters."):
            values[f.key] = params.pop(f.name, None)
        else:
            values[f.key] = round(in_unit(getattr(scenario, f.key), f.unit), 6)
    loc = scenario.location.model_dump(exclude_none=True) if scenario.location else None
    if loc and loc.get("crs") == "wgs84":
        loc.pop("crs")
    return kind, values, loc, params


def examples(folder: Path = EXAMPLES) -> dict[str, Scenario]:
    """The example scenarios shipped in data/scenarios, by file stem."""
    return {p.stem: Scenario.load(p) for p in sorted(folder.glob("*.yaml"))}


def facility_options(twin, kind: str, lang: str) -> list[dict]:
    """Facilities a hazard of this form can start at (hazchem sites for releases/explosions)."""
    fac = twin.facilities
    kinds = hazards.forms()[kind][1].facility_kinds if kind in FORMS else ()
    kinds = kinds or tuple(KIND_NAMES)
    fac = fac[fac["kind"].isin(kinds)]
    column = name_column(fac, lang)
    return [{"value": str(r["id"]), "label": f"{r[column]} · {_pick(KIND_NAMES[r['kind']], lang)}"}
            for _, r in fac.iterrows()]


def click_location(click_info: dict | None) -> dict | None:
    """{lat, lng} from dash-deck's clickInfo (its `coordinate` is [lng, lat]); None otherwise."""
    coord = (click_info or {}).get("coordinate")
    if not coord or len(coord) < 2:
        return None
    return {"lat": round(float(coord[1]), 6), "lng": round(float(coord[0]), 6)}


# ------------------------------------------------------------------ live readings

def live_from_readings(twin, cell_ids: np.ndarray, rain_mm_h: np.ndarray,
                       water_level_m: np.ndarray) -> dict:
    """sim live inputs (see sim.LIVE_KEYS) from per-cell live layers (NaN = no reading)."""
    pos = twin.positions(np.asarray(cell_ids, dtype=np.uint64))
    lat, lng = twin.centers
    live = {}
    for key, name, values in (("rain_gauges", "mm_h", rain_mm_h),
                              ("water_levels", "level_m", water_level_m)):
        values = np.asarray(values, dtype=float)
        ok = np.flatnonzero(np.isfinite(values[:len(pos)]) & (pos >= 0))
        if len(ok):
            live[key] = {"lat": lat[pos[ok]].tolist(), "lng": lng[pos[ok]].tolist(),
                         name: values[ok].tolist()}
    return live


WEATHER_READINGS = ("wind_speed_m_s", "wind_from_deg", "cloud_tenths")


def weather_from_readings(twin, cell_ids: np.ndarray, readings: dict[str, np.ndarray],
                          as_of: float) -> dict | None:
    """sim's `weather_stations` (see sim.weather) from per-cell last readings (NaN = none):
    every cell with a wind reading, its centre standing for the station."""
    pos = twin.positions(np.asarray(cell_ids, dtype=np.uint64))
    speed = np.asarray(readings["wind_speed_m_s"], dtype=float)[:len(pos)]
    ok = np.flatnonzero(np.isfinite(speed) & (pos >= 0))
    if not len(ok):
        return None
    lat, lng = twin.centers
    out = {"lat": lat[pos[ok]].tolist(), "lng": lng[pos[ok]].tolist(), "as_of": float(as_of)}
    for name in WEATHER_READINGS:
        out[name] = np.asarray(readings[name], dtype=float)[ok].tolist()
    return out


def read_live(bus, twin) -> dict:
    """Current rain (1 h mean per gauge cell), water levels and the weather stations' wind and
    cloud (last readings within the hour, as of the snapshot's time) from the bus."""
    from layers.live import snapshot

    cells = snapshot.cells(bus)
    live = live_from_readings(twin, cells, snapshot.read(bus, "iot.rain_mm_h.mean", "1h"),
                              snapshot.read(bus, "iot.water_level_m.last", "1h"))
    stations = weather_from_readings(
        twin, cells, {m: snapshot.read(bus, f"iot.{m}.last", "1h") for m in WEATHER_READINGS},
        snapshot.published_at(bus) or 0.0)
    if stations:
        live["weather_stations"] = stations
    return live


# ------------------------------------------------------------------ frames and maps

@dataclass(frozen=True)
class FrameScale:
    """How frames are drawn: the variable, the threshold below which cells are left out, colours."""

    variable: str
    threshold: float
    vmax: float
    log: bool


def frame_scale(result: Result) -> FrameScale:
    """The drawing scale of a result, fixed for all its frames (so colours compare over time)."""
    legend = hazards.get(result.scenario.hazard).legend
    thresholds = peak_field(result).thresholds
    threshold = legend.floor if legend.floor is not None else min(thresholds)
    if legend.top == "thresholds":  # red = the worst severity class
        vmax = float(max(thresholds))
    else:
        vmax = float(np.nanmax(result.ds[legend.variable].values, initial=threshold))
    return FrameScale(legend.variable, float(threshold), max(vmax, threshold * 1.01),
                      log=legend.log)


def frame_times(result: Result) -> list[float]:
    """Output times (s) of the result's frames."""
    return [float(x) for x in result.ds["time"].values]


def coarsen(cell_ids: np.ndarray, values: np.ndarray, limit: int = MAX_FRAME_CELLS):
    """At most `limit` cells: the maximum over parent cells, one H3 level up at a time."""
    ids, vals = np.asarray(cell_ids, np.uint64), np.asarray(values, float)
    while len(ids) > limit:
        level = int(h3cells.resolutions(ids[:1])[0]) - 1
        if level < 0:
            break
        parent = h3cells.parents(ids, level)
        ids, inverse = np.unique(parent, return_inverse=True)
        out = np.full(len(ids), -np.inf)
        np.maximum.at(out, inverse, vals)
        vals = out
    return ids, vals


def _records(result: Result, twin, values: np.ndarray, scale: FrameScale) -> list[dict]:
    keep = np.flatnonzero(np.nan_to_num(values) >= scale.threshold)
    if result.scenario.hazard == "flood":
        keep = keep[twin.ds["is_land"].values[keep].astype(bool)]
    ids, vals = coarsen(twin.cell_ids[keep], values[keep])
    shown = np.log10(vals) if scale.log else vals
    lo, hi = (np.log10(scale.threshold), np.log10(scale.vmax)) if scale.log else \
        (scale.threshold, scale.vmax)
    return maps.hexagon_records(ids, vals, maps.colors(shown, lo, hi, alpha=190))


def frame_records(result: Result, twin, step: int) -> list[dict]:
    """Hexagon records of one time step: only cells at or above the scale's threshold."""
    scale = frame_scale(result)
    n = result.ds.sizes["time"]
    if not 0 <= step < n:
        raise IndexError(f"frame {step} does not exist: the result has frames 0..{n - 1}")
    return _records(result, twin, result.ds[scale.variable].values[step], scale)


def peak_records(result: Result, twin) -> list[dict]:
    """Hexagon records of each cell's maximum over the run (for side-by-side comparison)."""
    return _records(result, twin, result.ds[frame_scale(result).variable].values.max(0),
                    frame_scale(result))


def hexagon_layer(layer_id: str, records: list[dict]) -> dict:
    return {"@@type": "H3HexagonLayer", "id": layer_id, "data": records, "getHexagon": "@@=hex",
            "getFillColor": "@@=c", "pickable": True, "stroked": False, "highPrecision": False}


def source_layer(result: Result) -> dict:
    """A ring at the hazard's source."""
    return {"@@type": "ScatterplotLayer", "id": "scenario-source",
            "data": [{"p": [result.ds.attrs["source_lng"], result.ds.attrs["source_lat"]]}],
            "getPosition": "@@=p", "getRadius": 250, "radiusMinPixels": 6, "stroked": True,
            "filled": False, "getLineColor": [255, 255, 255, 230], "lineWidthMinPixels": 2}


def result_map(result: Result, twin, records: list[dict]) -> dict:
    """The deck spec of a result: basemap, the hazard hexagons (layer 1), the source ring."""
    affected = np.flatnonzero(result.ds["severity"].values > 0)
    return maps.deck(twin, [hexagon_layer("scenario-frame", records), source_layer(result)],
                     focus=affected if len(affected) else None)


FRAME_LAYER_INDEX = 1  # position of the hazard layer in result_map's layers (after the basemap)


# ------------------------------------------------------------------ impact tables

def unit_table(impact: dict, lang: str) -> tuple[list[str], list[list]]:
    """(header, rows) of people per severity class per street/town, names in the UI language."""
    labels = impact["severity_labels"]
    header = [t("col_unit", lang), *[severity_name(lab, lang) for lab in labels],
              t("sev_total", lang)]
    rows = []
    for u in impact["units"]:
        name = u.get("name_en") if lang == "en" and u.get("name_en") else u["name"]
        people = [float(u[lab]) for lab in labels]
        rows.append([name, *[round(v) for v in people], round(sum(people))])
    return header, rows


def facility_table(impact: dict, twin, lang: str) -> tuple[list[str], list[list]]:
    """(header, rows) of the facilities in an affected cell, worst first."""
    names = twin.facilities.set_index(twin.facilities["id"].astype(str))
    column = name_column(names, lang)
    rows = [[str(names[column].get(f["id"], f["name"])),
             _pick(KIND_NAMES.get(f["kind"], (f["kind"], f["kind"])), lang),
             severity_name(f["severity"], lang)] for f in impact["facilities"]]
    return [t("col_facility", lang), t("col_kind", lang), t("col_severity", lang)], rows


def run_warnings(result: Result, lang: str) -> list[str]:
    """What the model says about its own run (e.g. the flood solver's oscillation check)."""
    attrs = result.ds.attrs
    if not int(attrs.get("oscillation_warning", 0)):
        return []
    return [t("warn_oscillation", lang).format(share=float(attrs["check_zigzag_share_max"]),
                                               size=float(attrs["check_zigzag_m_max"]),
                                               spill=float(attrs["check_crest_spill_m3"]))]


def live_notes(impact: dict, lang: str, tz: str) -> list[str]:
    """Which live readings a run started from, and when they were read (city time)."""
    used = impact.get("live_weather")
    if not used:
        return []
    from twin.settings import city_time

    method = t("method_turner" if used["method"] == "turner" else "method_neutral", lang)
    return [t("live_weather", lang).format(
        wind_from=float(used["wind_from_deg"]), speed=float(used["wind_speed_m_s"]),
        cls=used["stability"], method=method, km=float(used["distance_m"]) / 1000.0,
        time=city_time(float(used["as_of"]), tz).strftime("%Y-%m-%d %H:%M"))]


def headline(impact: dict, lang: str) -> list[tuple[str, str]]:
    """The few figures a planner reads first: people, facilities, roads, hazard extras."""
    out = [(t("kpi_people_affected", lang), f"{impact['people_affected']:,.0f}"),
           (t("kpi_facilities_affected", lang), f"{len(impact['facilities'])}"),
           (t("kpi_roads_cut", lang), f"{impact['roads_cut']['cells']}")]
    for fig in hazards.get(impact["hazard"]).figures if impact.get("hazard") else ():
        if impact.get(fig.key) is not None:
            out.append((t(f"kpi_{fig.key}", lang), fig.fmt.format(float(impact[fig.key])
                                                                  * fig.factor)))
    return out


def severity_figure(impact: dict, lang: str):
    """A bar chart of people per severity class (Plotly, dark)."""
    import plotly.graph_objects as go

    labels = impact["severity_labels"]
    fig = go.Figure(go.Bar(x=[severity_name(lab, lang) for lab in labels],
                           y=[impact["people_by_severity"][lab] for lab in labels],
                           marker_color=["#f5c542", "#f08a28", "#e0412c", "#a01830",
                                         "#701020", "#400818"][:len(labels)]))
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", margin=dict(l=40, r=10, t=30, b=40),
                      height=240, title=t("people_by_severity", lang), yaxis_title=None)
    return fig


def compare_table(a: Result, b: Result, lang: str) -> tuple[list[str], list[list]]:
    """(header, rows) of A, B and B - A per severity class; ScenarioError for mismatched runs."""
    from sim.impact import compare

    if not np.array_equal(a.ds["cell_ids"].values, b.ds["cell_ids"].values):
        raise ScenarioError(t("err_other_twin", lang))
    try:
        diff = compare(a.impact, b.impact)
    except ValueError:
        raise ScenarioError(t("err_other_hazard", lang)) from None
    rows = [[severity_name(lab, lang), *(round(v[k]) for k in ("a", "b", "b_minus_a"))]
            for lab, v in diff["people_by_severity"].items()]
    total = diff["people_affected"]
    rows.append([t("kpi_people_affected", lang),
                 *(round(total[k]) for k in ("a", "b", "b_minus_a"))])
    roads = diff["roads_cut_cells"]
    rows.append([t("kpi_roads_cut", lang), roads["a"], roads["b"], roads["b"] - roads["a"]])
    rows.append([t("kpi_facilities_affected", lang), len(a.impact["facilities"]),
                 len(b.impact["facilities"]),
                 len(b.impact["facilities"]) - len(a.impact["facilities"])])
    return [t("col_measure", lang), "A", "B", "B − A"], rows


# ------------------------------------------------------------------ run progress

PHASES = ("phase_simulate", "phase_store", "phase_draw")


def progress_state(phase: int, fraction: float | None = None) -> tuple[int, bool]:
    """(percent, unknown) for a run: phases done plus the known fraction of the current one.

    Only the flood model reports its own progress; for the others the fraction is unknown and
    the bar stays at the phase boundary (shown striped) instead of inventing a percentage.
    """
    done = phase + (min(max(fraction, 0.0), 1.0) if fraction is not None else 0.0)
    return round(100 * done / len(PHASES)), fraction is None


def run_and_store(scenario: Scenario, twin, store, live: dict | None = None,
                  report=lambda phase, fraction: None) -> str:
    """Run a scenario, store its result, return the run id; `report(phase, fraction)` as it goes.

    Phases follow PHASES; the fraction is the model's own report (None when it has none).
    """
    from sim import run

    hazard_reports = hazards.get(scenario.hazard).reports_progress
    report(0, 0.0 if hazard_reports else None)
    result = run(scenario, twin, live=live or None,
                 progress=(lambda f: report(0, f)) if hazard_reports else None)
    report(1, None)
    run_id = store.put(result)
    report(2, None)
    return run_id


def time_label(seconds: float, lang: str) -> str:
    """'T+30 min', 'T+2.5 h' or 'T+12 d' for a frame time."""
    for unit in ("d", "h", "min"):
        size = UNITS[unit]
        if seconds >= size * (2 if unit != "min" else 1):
            return f"T+{seconds / size:g} {t(f'unit_{unit}', lang)}"
    return f"T+{seconds:g} {t('unit_s', lang)}"
