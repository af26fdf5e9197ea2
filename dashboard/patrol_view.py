"""What the Inspection page (巡检) shows, as pure functions of the twin, the bus and the clock.

Coverage per street/town over the last N city days (`sim.patrol.coverage` of the cells the
vehicles covered, `TrackGate.covered_positions`) as a choropleth of the share of road cells
covered, streets/towns no vehicle inspected drawn apart; the table and headline of the same
figures; the vehicles at their last fixes (the wall's layer, `wall_view.vehicle_layer`); and the
route what-if: the greedy nearest-neighbour route (`sim.patrol.plan_route`) from the road cell
nearest the twin's centre over the streets/towns not inspected, as a PathLayer with its length,
driving time and the streets/towns it cannot reach. The page only lays these out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from dashboard import maps
from dashboard.i18n import add_labels, t, unit_names
from dashboard.wall_view import vehicle_layer
from layers.live.tracks import KEEP_DAYS, TrackGate, recent_days
from sim.patrol import RoadNetwork, Route, coverage, plan_route, uninspected

DEFAULT_DAYS = 7  # "this week"
DAY_CHOICES = tuple(range(1, KEEP_DAYS + 1))  # coverage is kept KEEP_DAYS city days
COVERAGE, ROUTE, VEHICLES = 1, 2, 3  # layer positions on the map (0: the basemap)
SHARE_RAMP = np.array([[70, 110, 190], [40, 170, 170], [135, 225, 120]], dtype=float)  # 0..100 %
NOT_INSPECTED_RGB = [235, 70, 60]
NO_ROADS_RGB = [110, 116, 130]
ROUTE_RGB = [245, 197, 66]
VEHICLE_RGB = [40, 220, 240]

add_labels({
    "patrol_title": {"zh": "巡检车道路覆盖", "en": "Inspection-vehicle road coverage"},
    "patrol_days": {"zh": "统计时段", "en": "Period"},
    "patrol_today": {"zh": "今天", "en": "Today"},
    "patrol_last_days": {"zh": "近 {} 天", "en": "Last {} days"},
    "patrol_this_week": {"zh": "近 7 天（本周）", "en": "Last 7 days (this week)"},
    "patrol_window_one": {"zh": "今天（城市时间 {}）", "en": "Today ({}, city time)"},
    "patrol_window": {"zh": "{} 至 {}（城市时间）", "en": "{} to {} (city time)"},
    "patrol_headline": {"zh": "已巡检 {} / {} 个街镇", "en": "{} of {} streets/towns inspected"},
    "patrol_no_bus": {"zh": "未连接事件总线：巡检覆盖需要 Redis（cityops serve/demo）",
                      "en": "No event bus: inspection coverage needs Redis (cityops serve/demo)"},
    "patrol_legend": {"zh": "道路单元覆盖率（%）", "en": "Road cells covered (%)"},
    "patrol_not_inspected": {"zh": "未巡检", "en": "Not inspected"},
    "patrol_no_roads": {"zh": "无道路单元", "en": "No road cells"},
    "patrol_vehicle": {"zh": "巡检车最新位置", "en": "Inspection vehicle, latest fix"},
    "patrol_route_swatch": {"zh": "推演路线", "en": "What-if route"},
    "patrol_vehicles": {"zh": "在线巡检车（近 10 分钟有定位）：{} 辆",
                        "en": "Inspection vehicles reporting (a fix in the last 10 min): {}"},
    "patrol_no_vehicles": {"zh": "近 10 分钟无巡检车定位",
                           "en": "No inspection vehicle has reported in the last 10 min"},
    "patrol_tip": {"zh": "{}：覆盖 {}（{} / {} 个道路单元）",
                   "en": "{}: {} covered ({} of {} road cells)"},
    "patrol_tip_none": {"zh": "{}：未巡检（{} 个道路单元）",
                        "en": "{}: not inspected ({} road cells)"},
    "patrol_tip_no_roads": {"zh": "{}：无道路单元", "en": "{}: no road cells"},
    "patrol_table": {"zh": "各街镇覆盖（未巡检在前）",
                     "en": "Coverage per street/town (not inspected first)"},
    "patrol_col_unit": {"zh": "街镇", "en": "Street/town"},
    "patrol_col_road": {"zh": "道路单元", "en": "Road cells"},
    "patrol_col_covered": {"zh": "已覆盖", "en": "Covered"},
    "patrol_col_share": {"zh": "覆盖率", "en": "Share covered"},
    "patrol_col_inspected": {"zh": "已巡检", "en": "Inspected"},
    "patrol_yes": {"zh": "是", "en": "yes"},
    "patrol_no": {"zh": "否", "en": "no"},
    "patrol_route_title": {"zh": "巡检路线推演", "en": "Inspection route what-if"},
    "patrol_plan": {"zh": "规划路线", "en": "Plan route"},
    "patrol_whatif": {"zh": "推演（非实时）", "en": "What-if (not live)"},
    "patrol_route_intro": {
        "zh": "为统计时段内未巡检的街镇规划一条巡检路线；结果仅供推演，不是车辆的实时位置。",
        "en": "Plans a route over the streets/towns not inspected in the period: a what-if, "
              "not where the vehicles are."},
    "patrol_solver": {
        "zh": "算法：贪心最近邻（每次驶向最近的未覆盖街镇，沿最快道路；不保证最优）；"
              "车速按主干道 {} 公里/小时、其他道路 {} 公里/小时估算。",
        "en": "Solver: greedy nearest neighbour (each time to the nearest street/town not yet "
              "covered, by the fastest roads; not optimal); speeds assumed {} km/h on main "
              "roads, {} km/h on others."},
    "patrol_length": {"zh": "全程 {:.1f} 公里，行驶约 {:,.0f} 分钟",
                      "en": "{:.1f} km, about {:,.0f} min of driving"},
    "patrol_for": {"zh": "统计时段内未巡检的街镇：{} 个",
                   "en": "Streets/towns not inspected in the period: {}"},
    "patrol_start": {"zh": "起点：{}（距区域中心最近的道路）",
                     "en": "Start: {} (the road nearest the centre of the area)"},
    "patrol_order": {"zh": "途经顺序：{}", "en": "Order: {}"},
    "patrol_unreachable": {"zh": "无法到达：{}", "en": "Cannot reach: {}"},
    "patrol_nothing_to_plan": {"zh": "统计时段内所有街镇均已巡检：无需规划路线",
                               "en": "Every street/town was inspected in the period: no route "
                                     "to plan"},
})


# -- the period --------------------------------------------------------------------------------------
def day_options(lang: str) -> list[dict]:
    """The period selector's choices: today, the last 2..KEEP_DAYS days (7: this week)."""
    def label(n: int) -> str:
        if n == 1:
            return t("patrol_today", lang)
        return t("patrol_this_week" if n == DEFAULT_DAYS else "patrol_last_days", lang).format(n)
    return [{"value": str(n), "label": label(n)} for n in DAY_CHOICES]


def days_of(value) -> int:
    """The period in days from the selector's value (its default when cleared)."""
    return int(value) if value else DEFAULT_DAYS


def window_text(days: int, now: float, tz: str, lang: str) -> str:
    """The city days of the period, first to last, in the city's time zone."""
    stamps = recent_days(days, now, tz)

    def day(d: int) -> str:
        return f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
    if len(stamps) == 1:
        return t("patrol_window_one", lang).format(day(stamps[0]))
    return t("patrol_window", lang).format(day(stamps[0]), day(stamps[-1]))


# -- coverage ----------------------------------------------------------------------------------------
def coverage_table(twin, bus, days: int, now: float) -> pd.DataFrame:
    """Per street/town: road cells, covered, share, inspected, over the last `days` city days."""
    covered = TrackGate(bus, twin).covered_positions(recent_days(days, now, twin.timezone))
    return coverage(twin, covered)


def _has_roads(row) -> bool:
    return int(row["road_cells"]) > 0


def share_rgb(share: float) -> list[int]:
    """The ramp colour of a share covered (0..1)."""
    x = float(np.clip(share, 0.0, 1.0)) * (len(SHARE_RAMP) - 1)
    stops = np.arange(len(SHARE_RAMP))
    return [int(round(np.interp(x, stops, SHARE_RAMP[:, k]))) for k in range(3)]


def percent(share: float) -> str:
    return "—" if share is None or np.isnan(share) else f"{100 * share:.0f}%"


def fill_rgb(row) -> list[int]:
    """A street/town's colour: the ramp by share when inspected, apart when not, grey when it
    has no road cells."""
    if not _has_roads(row):
        return NO_ROADS_RGB
    return share_rgb(float(row["share"])) if row["inspected"] else NOT_INSPECTED_RGB


def tip(row, name: str, lang: str) -> str:
    if not _has_roads(row):
        return t("patrol_tip_no_roads", lang).format(name)
    if not row["inspected"]:
        return t("patrol_tip_none", lang).format(name, int(row["road_cells"]))
    return t("patrol_tip", lang).format(name, percent(float(row["share"])),
                                        int(row["covered_cells"]), int(row["road_cells"]))


@lru_cache(maxsize=4)
def _unit_polygons(twin) -> dict[int, list]:
    return {int(u): maps.polygons(g) for u, g in zip(twin.units["unit"], twin.units.geometry,
                                                      strict=True)}


def coverage_records(twin, table: pd.DataFrame, lang: str) -> list[dict]:
    """PolygonLayer records, one per polygon of each street/town: its rings, fill and outline
    (red for one not inspected) and its tooltip (`title`, as the vehicles' records)."""
    names, shapes = unit_names(twin, lang), _unit_polygons(twin)
    out = []
    for row in table.to_dict("records"):
        u = int(row["unit"])
        rgb = fill_rgb(row)
        missed = _has_roads(row) and not row["inspected"]
        line = [255, 110, 100, 255] if missed else [200, 210, 225, 200]
        title = tip(row, names.get(u, str(u)), lang)
        out += [{"polygon": rings, "unit": u, "fill": [*rgb, 150 if missed else 170],
                 "line": line, "title": title} for rings in shapes.get(u, [])]
    return out


def coverage_layer(records: list[dict]) -> dict:
    return {"@@type": "PolygonLayer", "id": "coverage", "data": records,
            "getPolygon": "@@=polygon", "getFillColor": "@@=fill", "getLineColor": "@@=line",
            "lineWidthMinPixels": 2, "stroked": True, "filled": True, "pickable": True}


def coverage_rows(table: pd.DataFrame, lang: str, names: dict[int, str]) -> list[dict]:
    """Table rows, not inspected first (then the least covered); streets/towns with no road
    cells last."""
    rows = []
    for row in table.to_dict("records"):
        roads = _has_roads(row)
        u = int(row["unit"])
        rows.append({"unit": u, "name": names.get(u, str(row["name"])),
                     "road_cells": int(row["road_cells"]),
                     "covered_cells": int(row["covered_cells"]),
                     "share": percent(float(row["share"])) if roads else "—",
                     "inspected": bool(row["inspected"]),
                     "inspected_text": t("patrol_yes" if row["inspected"] else "patrol_no", lang)
                     if roads else t("patrol_no_roads", lang),
                     "_key": (0 if roads and not row["inspected"] else 1 if roads else 2,
                              0.0 if not roads else float(row["share"]), u)})
    rows.sort(key=lambda r: r["_key"])
    return [{k: v for k, v in r.items() if k != "_key"} for r in rows]


def headline(table: pd.DataFrame, lang: str) -> str:
    """'N of M streets/towns inspected' (M: those with road cells)."""
    roads = table["road_cells"] > 0
    return t("patrol_headline", lang).format(int((table["inspected"] & roads).sum()),
                                             int(roads.sum()))


def legend(lang: str) -> dict:
    """The map legend: the share ramp in %, not inspected, no road cells, route, vehicles."""
    return {"title": t("patrol_legend", lang), "ramp": SHARE_RAMP.astype(int).tolist(),
            "low": "0%", "high": "100%",
            "classes": [{"name": t(key, lang), "value": "", "rgb": rgb} for key, rgb in (
                ("patrol_not_inspected", NOT_INSPECTED_RGB), ("patrol_no_roads", NO_ROADS_RGB),
                ("patrol_route_swatch", ROUTE_RGB), ("patrol_vehicle", VEHICLE_RGB))]}


def vehicles_text(vehicles: dict, lang: str) -> str:
    n = len(vehicles["data"])
    return t("patrol_vehicles", lang).format(n) if n else t("patrol_no_vehicles", lang)


# -- the route what-if -------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def network(twin) -> RoadNetwork:
    """The twin's road graph (built once per twin: a tenth of a second on the demo)."""
    return RoadNetwork(twin)


def route_layer(twin, route: Route | None = None, title: str = "") -> dict:
    """The route as a deck.gl PathLayer ([lng, lat] of its cells in driving order); empty
    without a route."""
    data = []
    if route is not None and len(route.cells) > 1:
        lat, lng = twin.centers
        path = np.c_[lng[route.cells], lat[route.cells]].round(6).tolist()
        data = [{"path": path, "title": title}]
    return {"@@type": "PathLayer", "id": "route", "data": data, "getPath": "@@=path",
            "getColor": [*ROUTE_RGB, 235], "getWidth": 60, "widthMinPixels": 4,
            "widthMaxPixels": 10, "jointRounded": True, "capRounded": True, "pickable": True}


def plan(twin, table: pd.DataFrame, lang: str) -> dict:
    """The greedy route over the streets/towns `table` marks not inspected, from the road cell
    nearest the twin's centre: its layer, length (km), driving time (min), the streets/towns in
    the order covered and those it cannot reach, and the lines the page shows."""
    net = network(twin)
    todo = uninspected(table[table["road_cells"] > 0])
    names = unit_names(twin, lang)
    start = net.start()
    start_name = names.get(int(net.unit[start]), "—")
    if not todo:
        return {"layer": route_layer(twin), "km": 0.0, "minutes": 0.0, "order": [],
                "unreachable": [], "todo": [],
                "lines": [t("patrol_nothing_to_plan", lang)]}
    route = plan_route(net, start, todo)
    km, minutes = route.length_m / 1000.0, route.time_s / 60.0
    length = t("patrol_length", lang).format(km, minutes)
    sep = "、" if lang == "zh" else ", "
    order = [names.get(u, str(u)) for u in route.units]
    unreachable = [names.get(u, str(u)) for u in route.unreachable]
    lines = [length, t("patrol_for", lang).format(len(todo)),
             t("patrol_start", lang).format(start_name),
             t("patrol_order", lang).format(" → ".join(order) if order else t("none", lang)),
             t("patrol_unreachable", lang).format(sep.join(unreachable) if unreachable
                                                  else t("none", lang)),
             t("patrol_solver", lang).format(f"{net.speeds.main_kmh:g}",
                                             f"{net.speeds.local_kmh:g}")]
    return {"layer": route_layer(twin, route, f"{t('patrol_whatif', lang)} · {length}"),
            "km": km, "minutes": minutes, "order": order, "unreachable": unreachable,
            "todo": todo, "lines": lines}


# -- the page's state --------------------------------------------------------------------------------
def deck(twin, table: pd.DataFrame, vehicles: dict, lang: str) -> dict:
    """The page's map: the basemap, the coverage choropleth, the (empty) route, the vehicles."""
    return maps.deck(twin, [coverage_layer(coverage_records(twin, table, lang)),
                            route_layer(twin), vehicles])


def update(twin, bus, days: int, lang: str, trigger: str | None, now: float) -> dict:
    """What a refresh changes: the map layers by position, the figures, and the route: a new
    plan (`trigger` the plan button), cleared (the period changed: a plan is for one period),
    or None (left as it is)."""
    table = coverage_table(twin, bus, days, now)
    vehicles = vehicle_layer(bus, twin, now)
    layers = {COVERAGE: coverage_layer(coverage_records(twin, table, lang)), VEHICLES: vehicles}
    route = None
    if trigger == "patrol-plan":
        route = plan(twin, table, lang)
        layers[ROUTE] = route["layer"]
    elif trigger == "patrol-days":
        route = {"lines": [], "layer": route_layer(twin)}
        layers[ROUTE] = route["layer"]
    return {"layers": layers, "table": table, "rows": coverage_rows(table, lang,
                                                                     unit_names(twin, lang)),
            "headline": headline(table, lang), "window": window_text(days, now, twin.timezone,
                                                                     lang),
            "vehicles": vehicles_text(vehicles, lang), "route": route}
