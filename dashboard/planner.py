"""What a planner reads beside a scenario result, as pure functions: the map's legend (the
hazard's severity classes with their thresholds and units: AEGL levels, flood depth classes,
overpressure classes) and the comparison of two runs (same hazard on the same twin: side by side
and a map of the change in severity class per cell; different hazards: side by side, each with
its own impacts and legend)."""

from __future__ import annotations

import numpy as np

from dashboard import maps
from dashboard import scenario_view as sv
from dashboard.i18n import add_labels, t
from sim import Result

TITLES = {"flood": "legend_depth", "toxic_release": "legend_concentration",
          "explosion": "legend_overpressure", "epidemic": "legend_infected",
          "evacuation": "legend_remaining"}
CLASSED = ("flood", "toxic_release", "explosion")  # the map's colours are the class thresholds
WORSE, BETTER, SAME = [200, 30, 40, 210], [40, 150, 220, 210], [150, 150, 150, 120]

add_labels({
    "legend_depth": {"zh": "水深", "en": "Water depth"},
    "legend_concentration": {"zh": "浓度", "en": "Concentration"},
    "legend_overpressure": {"zh": "冲击波超压", "en": "Blast overpressure"},
    "legend_infected": {"zh": "感染人数", "en": "People infected"},
    "legend_remaining": {"zh": "尚未撤离人数", "en": "People still to leave"},
    "unit_persons": {"zh": "人", "en": "people"},
    "legend_flood": {"zh": "洪涝", "en": "Flood"},
    "diff_title": {"zh": "B 相对 A 的危险等级变化", "en": "Hazard class, B compared with A"},
    "diff_worse": {"zh": "B 更严重", "en": "worse in B"},
    "diff_better": {"zh": "B 更轻", "en": "milder in B"},
    "diff_same": {"zh": "等级相同", "en": "same class"},
    "cmp_other_hazard": {"zh": "两次结果灾种不同：并排显示各自的影响", "en":
                         "Different hazards: each run is shown with its own impacts"},
})


def _unit(result: Result, variable: str, lang: str) -> str:
    unit = str(result.ds[variable].attrs.get("units", ""))
    return t("unit_persons", lang) if unit == "persons" else unit


def _rgb(values, scale: sv.FrameScale) -> list[list[int]]:
    values = np.asarray(values, float)
    if scale.log:
        values = np.log10(np.maximum(values, 1e-12))
        lo, hi = np.log10(scale.threshold), np.log10(scale.vmax)
    else:
        lo, hi = scale.threshold, scale.vmax
    return maps.colors(values, lo, hi)[:, :3].tolist()


def legend(result: Result, lang: str) -> dict:
    """The legend of a result's map: title with unit, the colour ramp from the drawing threshold
    to the top of the scale, and each severity class (name, threshold, its colour on the ramp)
    for the hazards whose colours are cut at the class thresholds."""
    from sim.runner import peak_field

    scale = sv.frame_scale(result)
    hazard = result.scenario.hazard
    unit = _unit(result, scale.variable, lang)
    if scale.log:
        steps = np.logspace(np.log10(scale.threshold), np.log10(scale.vmax), 6)
    else:
        steps = np.linspace(scale.threshold, scale.vmax, 6)
    classes = []
    if hazard in CLASSED:
        _, _, thresholds, labels = peak_field(result)
        colours = _rgb(thresholds, scale)
        names = [sv.severity_name(label, lang) for label in labels]
        classes = [{"name": name, "rgb": rgb,  # some class names say their threshold already
                    "value": "" if "≥" in name else f"≥ {value:g} {unit}"}
                   for name, value, rgb in zip(names, thresholds, colours, strict=True)]
    return {"title": f"{t(TITLES.get(hazard, 'legend_remaining'), lang)} ({unit})",
            "low": f"{scale.threshold:g}", "high": f"{scale.vmax:g}", "unit": unit,
            "ramp": _rgb(steps, scale), "classes": classes}


def comparable(a: Result, b: Result) -> bool:
    """Two runs whose maps can be subtracted: the same hazard on the same cells."""
    return a.scenario.hazard == b.scenario.hazard and \
        np.array_equal(a.ds["cell_ids"].values, b.ds["cell_ids"].values)


def severity_change(a: Result, b: Result) -> tuple[np.ndarray, np.ndarray]:
    """(positions, B - A) of the severity class of every cell in either footprint."""
    sa = np.clip(a.ds["severity"].values.astype(int), 0, None)
    sb = np.clip(b.ds["severity"].values.astype(int), 0, None)
    cells = np.flatnonzero((sa > 0) | (sb > 0))
    return cells, sb[cells] - sa[cells]


def difference_records(a: Result, b: Result, twin) -> list[dict]:
    """Hexagon records of the change: red where B is worse, blue where milder, grey where the
    class is the same (each drawn on coarser cells above the frame limit, keeping the most
    changed)."""
    cells, change = severity_change(a, b)
    ids = twin.cell_ids[cells]
    out = []
    for picked, colour, sign in ((change > 0, WORSE, 1), (change < 0, BETTER, -1),
                                 (change == 0, SAME, 1)):
        if not picked.any():
            continue
        kept, values = sv.coarsen(ids[picked], sign * change[picked].astype(float))
        rgba = np.tile(colour, (len(kept), 1))
        if sign < 0 or colour is WORSE:  # stronger colour for a bigger change
            rgba[:, 3] = np.clip(120 + 45 * np.abs(values), 120, 240)
        out += maps.hexagon_records(kept, sign * values, rgba)
    return out


def difference_map(a: Result, b: Result, twin) -> dict:
    """The deck spec of the change map, framed on both footprints, with both sources."""
    cells, _ = severity_change(a, b)
    return maps.deck(twin, [sv.hexagon_layer("scenario-diff", difference_records(a, b, twin)),
                            sv.source_layer(a), {**sv.source_layer(b), "id": "scenario-source-b"}],
                     focus=cells if len(cells) else None)


def difference_legend(lang: str) -> dict:
    return {"title": t("diff_title", lang),
            "classes": [{"name": t(key, lang), "value": "", "rgb": colour[:3]}
                        for key, colour in (("diff_worse", WORSE), ("diff_better", BETTER),
                                            ("diff_same", SAME))]}


def side(result: Result, lang: str) -> dict:
    """What stands above one run's map in a comparison: its name, hazard and headline."""
    return {"name": sv.in_lang(result.scenario.name, lang),
            "hazard": t("legend_flood" if result.scenario.hazard == "flood"
                        else f"form_{result.scenario.hazard}", lang),
            "headline": sv.headline(result.impact, lang)}


def run_options(infos: list, lang: str, tz: str) -> list[dict]:
    """The kept runs as choices ({value, label}): saved ones starred under their saved name,
    each with when it ran in the city's time (`dashboard.results.RunInfo` records)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz or "UTC")
    out = []
    for info in infos:
        when = dt.datetime.fromtimestamp(info.ran_at, zone).strftime("%m-%d %H:%M")
        name = sv.in_lang(info.saved_as or info.name, lang)
        out.append({"value": info.id, "label": f"★ {name} · {when}" if info.saved_as
                    else f"{name} · {when} · {info.id[:6]}"})
    return out
