"""What the Scenarios page shows, as pure functions: form <-> scenario, frames, tables, exports.

The page's callbacks only move values between the browser and these functions, so everything a
planner sees (validation messages, the animated map, the impact tables, the comparison, the
exported files) is unit-tested here. Hazard forms are data (`FORMS`): each field is a path into
`sim.Scenario` with a default and bounds, so adding a parameter is one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashboard import maps
from dashboard.i18n import LABELS, add_labels, t
from sim import Result, Scenario, ScenarioError
from sim.plume import CHEMICALS
from sim.runner import peak_field
from twin import cells as h3cells

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "scenarios"
UNIT_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
MAX_FRAME_CELLS = 4000  # above this a frame is drawn on coarser H3 cells (bounded payload)


@dataclass(frozen=True)
class FormField:
    """One input of a hazard form: `key` is a path into the scenario ("parameters.x")."""

    key: str
    default: float | str | None
    lo: float | None = None
    hi: float | None = None
    step: float = 1.0
    options: tuple[str, ...] = ()
    unit: str = ""  # for duration fields: the unit the number is in (s, min, h, d)

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]



def _p(name: str, default, lo=None, hi=None, step=1.0, options=()) -> FormField:
    return FormField(f"parameters.{name}", default, lo, hi, step, tuple(options))


def _time(duration: float, every: float, unit: str, every_unit: str) -> list[FormField]:
    return [FormField("duration", duration, 0, None, 1, unit=unit),
            FormField("output_every", every, 0, None, 1, unit=every_unit)]


# form kind -> (sim hazard, fields); the two flood forms share the flood model
FORMS: dict[str, tuple[str, list[FormField]]] = {
    "rainstorm": ("flood", [_p("rain_mm_h", 60, 0, 300), _p("rain_radius_km", 10.0, 0.5, 100),
                            _p("drainage_mm_h", 20, 0, 200), _p("manning_n", 0.05, 0.01, 0.2, 0.01),
                            *_time(3, 30, "h", "min")]),
    "storm_tide": ("flood", [_p("storm_tide_m", 4.0, 0, 10, 0.1), _p("sea_level_m", 0.0, -2, 3, 0.1),
                             _p("manning_n", 0.04, 0.01, 0.2, 0.01), *_time(12, 30, "h", "min")]),
    "toxic_release": ("toxic_release", [
        _p("chemical", "chlorine", options=tuple(CHEMICALS)), _p("release_g_s", 5000, 1, 1e6, 100),
        _p("wind_from_deg", 45, 0, 360, 5), _p("wind_speed_m_s", 3.0, 0.5, 30, 0.5),
        _p("stability", "D", options=tuple("ABCDEF")), _p("terrain", "urban", options=("urban", "rural")),
        _p("release_height_m", 2.0, 0, 200), *_time(60, 5, "min", "min")]),
    "explosion": ("explosion", [_p("tnt_kg", 1000, 1, 1e7, 100), *_time(60, 60, "s", "s")]),
    "epidemic": ("epidemic", [_p("r0", 2.5, 0.1, 20, 0.1), _p("latent_days", 3, 0.5, 30, 0.5),
                              _p("infectious_days", 5, 0.5, 60, 0.5), _p("mobility", 0.1, 0, 1, 0.05),
                              _p("seed_infections", 20, 1, 1e5), *_time(120, 1, "d", "d")]),
    "evacuation": ("evacuation", [_p("radius_km", 2.0, 0.1, 50, 0.1),
                                  _p("mode", "walk", options=("walk", "drive")),
                                  *_time(4, 10, "h", "min")]),
}
NEEDS_LOCATION = {"toxic_release", "explosion", "epidemic", "evacuation", "rainstorm"}
FACILITY_KINDS = {"toxic_release": ("hazchem_site",), "explosion": ("hazchem_site",),
                  "evacuation": ("hazchem_site", "school", "hospital")}
# time-varying variable drawn per frame, and the value below which a cell is not drawn
FRAME_VARIABLE = {"flood": "depth_m", "toxic_release": "concentration_ppm",
                  "explosion": "overpressure_kpa", "epidemic": "I", "evacuation": "remaining"}

_LABELS = {  # key: (zh, en)
    "form_rainstorm": ("暴雨内涝", "Rainstorm flood"), "form_storm_tide": ("风暴潮", "Storm tide"),
    "form_toxic_release": ("有毒气体泄漏", "Toxic release"), "form_explosion": ("爆炸", "Explosion"),
    "form_epidemic": ("传染病", "Epidemic"), "form_evacuation": ("人员疏散", "Evacuation"),
    "field_rain_mm_h": ("雨强 (mm/h)", "Rain (mm/h)"),
    "field_rain_radius_km": ("降雨半径 (km)", "Rain radius (km)"),
    "field_drainage_mm_h": ("排水能力 (mm/h)", "Drainage (mm/h)"),
    "field_manning_n": ("曼宁糙率", "Manning's n"),
    "field_storm_tide_m": ("风暴潮峰值潮位 (m)", "Peak storm tide (m)"),
    "field_sea_level_m": ("起始海平面 (m)", "Initial sea level (m)"),
    "field_chemical": ("化学品", "Chemical"),
    "field_release_g_s": ("泄漏速率 (g/s)", "Release rate (g/s)"),
    "field_wind_from_deg": ("风向 (来向, °)", "Wind from (°)"),
    "field_wind_speed_m_s": ("风速 (m/s)", "Wind speed (m/s)"),
    "field_stability": ("大气稳定度", "Stability class"), "field_terrain": ("地形", "Terrain"),
    "field_release_height_m": ("泄漏高度 (m)", "Release height (m)"),
    "field_tnt_kg": ("TNT当量 (kg)", "TNT equivalent (kg)"),
    "field_r0": ("基本再生数 R0", "Basic reproduction number R0"),
    "field_latent_days": ("潜伏期 (天)", "Latent period (days)"),
    "field_infectious_days": ("传染期 (天)", "Infectious period (days)"),
    "field_mobility": ("人口流动系数", "Mobility"),
    "field_seed_infections": ("初始感染人数", "Seed infections"),
    "field_radius_km": ("疏散半径 (km)", "Evacuation radius (km)"), "field_mode": ("疏散方式", "Mode"),
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
    "kpi_max_depth_on_land_m": ("陆地最大水深", "Max depth on land"),
    "kpi_clearance_s": ("疏散完成时间", "Clearance time"),
    "kpi_people_infected": ("累计感染", "People infected"),
    "people_by_severity": ("各影响等级人口", "People by severity"),
    "err_other_twin": ("两次结果不在同一孪生体上，无法比较", "the two results are on different twins: compare runs on the same twin"),
    "err_other_hazard": ("只能比较同一灾种的结果", "the two results are of different hazards: compare runs of the same hazard"),
    "phase_simulate": ("模拟计算中", "Simulating"), "phase_store": ("保存结果", "Saving the result"),
    "phase_draw": ("生成地图与表格", "Drawing map and tables"),
}
add_labels({key: {"zh": zh, "en": en} for key, (zh, en) in _LABELS.items()})
SEVERITY_NAMES = {
    "ponding>=0.15m": ("积水 ≥0.15 m", "Ponding ≥0.15 m"), "deep>=0.5m": ("深水 ≥0.5 m", "Deep ≥0.5 m"),
    "dangerous>=1.5m": ("危险 ≥1.5 m", "Dangerous ≥1.5 m"),
    "AEGL-1": ("AEGL-1 不适", "AEGL-1 discomfort"), "AEGL-2": ("AEGL-2 严重", "AEGL-2 disabling"),
    "AEGL-3": ("AEGL-3 致命", "AEGL-3 lethal"), "glass_breakage": ("玻璃破碎", "Glass breakage"),
    "minor_damage": ("轻微损坏", "Minor damage"), "houses_uninhabitable": ("房屋不可居住", "Uninhabitable"),
    "partial_collapse": ("局部倒塌", "Partial collapse"), "severe_damage": ("严重破坏", "Severe damage"),
    "total_destruction": ("完全摧毁", "Total destruction"),
    "attack>=1%": ("罹患率 ≥1%", "Attack ≥1%"), "attack>=10%": ("罹患率 ≥10%", "Attack ≥10%"),
    "attack>=30%": ("罹患率 ≥30%", "Attack ≥30%"),
    "evacuation_zone": ("疏散区", "Evacuation zone"), "not_sheltered": ("未安置", "Not sheltered"),
}
KIND_NAMES = {"hospital": ("医院", "Hospital"), "school": ("学校", "School"),
              "shelter": ("避难场所", "Shelter"), "hazchem_site": ("危化品企业", "Hazchem site"),
              "fire_station": ("消防站", "Fire station")}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def severity_name(label: str, lang: str) -> str:
    """A severity class label of sim (e.g. 'AEGL-2') in the UI language."""
    return _pick(SEVERITY_NAMES[label], lang) if label in SEVERITY_NAMES else label


def in_lang(name: str, lang: str) -> str:
    """The part of a bilingual 'zh / en' name for the UI language (the whole name otherwise)."""
    parts = [p.strip() for p in str(name).split(" / ")]
    return parts[-1] if lang == "en" and len(parts) == 2 else parts[0]


# ------------------------------------------------------------------ form <-> scenario

def fields(kind: str) -> list[FormField]:
    """The fields of a hazard form; a KeyError names the known forms."""
    if kind not in FORMS:
        raise KeyError(f"unknown hazard form {kind!r}: choose one of {', '.join(FORMS)}")
    return FORMS[kind][1]


def form_kind(scenario: Scenario) -> str:
    """Which form shows a scenario (a flood with a storm tide is a storm-tide form)."""
    if scenario.hazard != "flood":
        return scenario.hazard
    p = scenario.params
    return "storm_tide" if p.storm_tide_m is not None or p.tide_profile else "rainstorm"


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
    hazard, spec = FORMS[kind][0], fields(kind)
    data: dict = {"name": name.strip() or t(f"form_{kind}", lang), "hazard": hazard,
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
            data[f.key] = float(value) * UNIT_S[f.unit]
    if location:
        data["location"] = location
    elif kind in NEEDS_LOCATION:
        raise ScenarioError(f"{t('field_location', lang)} (location): {t('err_location', lang)}")
    try:
        return Scenario.parse(data, source=data["name"])
    except ScenarioError as exc:
        raise ScenarioError(_name_fields(str(exc), lang)) from None


def scenario_to_form(scenario: Scenario) -> tuple[str, dict, dict | None, dict]:
    """(form kind, field values, location, extras) that reproduce a scenario in the form."""
    kind = form_kind(scenario)
    params = dict(scenario.parameters)
    values = {}
    for f in fields(kind):
        if f.key.startswith("parameters."):
            values[f.key] = params.pop(f.name, None)
        else:
            values[f.key] = round(getattr(scenario, f.key) / UNIT_S[f.unit], 6)
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
    kinds = FACILITY_KINDS.get(kind, tuple(KIND_NAMES))
    fac = fac[fac["kind"].isin(kinds)]
    column = "name_en" if lang == "en" and "name_en" in fac else "name"
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


def read_live(bus, twin) -> dict:
    """Current rain (1 h mean per gauge cell) and water levels (last reading) from the bus."""
    from layers.live import snapshot

    return live_from_readings(twin, snapshot.cells(bus),
                              snapshot.read(bus, "iot.rain_mm_h.mean", "1h"),
                              snapshot.read(bus, "iot.water_level_m.last", "1h"))


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
    _, peak, thresholds, _ = peak_field(result)
    hazard = result.scenario.hazard
    variable = FRAME_VARIABLE[hazard]
    threshold = {"flood": 0.05, "epidemic": 1.0, "evacuation": 1.0}.get(hazard, min(thresholds))
    if hazard in ("flood", "toxic_release", "explosion"):  # red = the worst severity class
        vmax = float(max(thresholds))
    else:
        vmax = float(np.nanmax(result.ds[variable].values, initial=threshold))
    return FrameScale(variable, float(threshold), max(vmax, threshold * 1.01),
                      log=hazard != "flood")


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
    column = "name_en" if lang == "en" and "name_en" in names else "name"
    rows = [[str(names[column].get(f["id"], f["name"])),
             _pick(KIND_NAMES.get(f["kind"], (f["kind"], f["kind"])), lang),
             severity_name(f["severity"], lang)] for f in impact["facilities"]]
    return [t("col_facility", lang), t("col_kind", lang), t("col_severity", lang)], rows


def headline(impact: dict, lang: str) -> list[tuple[str, str]]:
    """The few figures a planner reads first: people, facilities, roads, hazard extras."""
    out = [(t("kpi_people_affected", lang), f"{impact['people_affected']:,.0f}"),
           (t("kpi_facilities_affected", lang), f"{len(impact['facilities'])}"),
           (t("kpi_roads_cut", lang), f"{impact['roads_cut']['cells']}")]
    extras = {"max_depth_on_land_m": ("{:.2f} m", 1.0), "clearance_s": ("{:.0f} min", 1 / 60),
              "people_infected": ("{:,.0f}", 1.0)}
    for key, (fmt, factor) in extras.items():
        if impact.get(key) is not None:
            out.append((t(f"kpi_{key}", lang), fmt.format(float(impact[key]) * factor)))
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

    hazard_reports = scenario.hazard == "flood"
    report(0, 0.0 if hazard_reports else None)
    result = run(scenario, twin, live=live or None,
                 progress=(lambda f: report(0, f)) if hazard_reports else None)
    report(1, None)
    run_id = store.put(result)
    report(2, None)
    return run_id


def time_label(seconds: float, lang: str) -> str:
    """'T+30 min', 'T+2.5 h' or 'T+12 d' for a frame time."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size * (2 if unit != "min" else 1):
            return f"T+{seconds / size:g} {t(f'unit_{unit}', lang)}"
    return f"T+{seconds:g} {t('unit_s', lang)}"
