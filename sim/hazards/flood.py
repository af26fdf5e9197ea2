"""Flood hazard entry: rain (constant, hyetograph, live gauges) and storm tides on the twin.

The physics is `sim.flood` (local inertial, Bates et al. 2010); this module places a scenario on
the twin's mesh (sea cells held at the tide level, rain within a radius) and classes the peak
depth on land. Depth classes: 0.15 m is the road ponding limit of GB 51222-2017 (Technical code
for urban flooding prevention and control; the clause number was not re-checked here), 0.5 m
floats cars and 1.5 m is life-threatening (the usual flood-hazard breakpoints).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import Field as Spec

from sim import flood
from sim.hazards import base as hz
from sim.mesh import from_twin, haversine_m
from sim.spec import ScenarioError, Strict

ROAD_CUT_M = 0.3  # depth at which a road cell counts as cut for vehicles
CLASSES = hz.Classes((hz.Level("ponding", 0.15, "积水", "Ponding"),
                      hz.Level("deep", 0.5, "深水", "Deep"),
                      hz.Level("dangerous", 1.5, "危险", "Dangerous")), unit="m")


class FloodParams(Strict):
    """Rain (constant, stepped hyetograph) and/or a storm tide held on the sea cells."""

    rain_mm_h: float | None = Spec(None, ge=0)
    hyetograph: list[tuple[float, float]] | None = Spec(
        None, description="[(hour from start, mm/h)], each rate held until the next hour")
    rain_radius_km: float | None = Spec(None, gt=0, description="rain only this close to the "
                                        "location; everywhere when omitted")
    storm_tide_m: float | None = Spec(None, description="peak sea level (m above mean sea)")
    tide_profile: list[tuple[float, float]] | None = Spec(
        None, description="[(hour, sea level m)]; default a smooth rise to storm_tide_m at "
        "mid-run and back")
    sea_level_m: float = 0.0
    manning_n: float = Spec(0.03, gt=0, lt=1)
    drainage_mm_h: float = Spec(0.0, ge=0, description="what the drains remove")


def idw(twin, gauges: dict, key: str) -> np.ndarray:
    """Inverse-distance-squared interpolation of gauge values to cell centres."""
    glat, glng = np.asarray(gauges["lat"], float), np.asarray(gauges["lng"], float)
    values = np.asarray(gauges[key], float)
    if not len(glat) == len(glng) == len(values) > 0:
        raise ScenarioError(f"live gauges need equal, non-empty 'lat', 'lng', '{key}' arrays")
    lat, lng = twin.centers
    d = haversine_m(lat[:, None], lng[:, None], glat[None, :], glng[None, :])
    w = 1.0 / np.maximum(d, 1.0) ** 2
    return (w * values).sum(1) / w.sum(1)


def _rain(p: FloodParams, twin, place: hz.Place, live: dict):
    """Rain for the run: live gauges, live scalar, hyetograph or constant; within the radius."""
    rain = None
    if "rain_gauges" in live:
        rain = idw(twin, live["rain_gauges"], "mm_h")
    elif "rain_mm_h" in live:
        rain = np.broadcast_to(np.asarray(live["rain_mm_h"], float), (len(twin),)).copy()
    elif p.hyetograph:
        hours, mm = zip(*p.hyetograph, strict=True)
        rain = {"times_s": np.array(hours) * 3600.0, "mm_h": np.array(mm)}
    elif p.rain_mm_h:
        rain = p.rain_mm_h
    if rain is not None and p.rain_radius_km:
        d = haversine_m(twin.centers[0], twin.centers[1], place.lat, place.lng)
        mask = (d <= p.rain_radius_km * 1000.0).astype(float)
        if isinstance(rain, dict):
            rain = {"times_s": rain["times_s"], "mm_h": np.asarray(rain["mm_h"])[:, None] * mask}
        else:
            rain = rain * mask
    return rain


def _tide(p: FloodParams, duration: float, sea_level: float) -> tuple[np.ndarray, np.ndarray]:
    if p.tide_profile:
        hours, level = zip(*p.tide_profile, strict=True)
        return np.array(hours) * 3600.0, np.array(level)
    if p.storm_tide_m is not None:
        times = np.linspace(0.0, duration, 49)
        return times, sea_level + (p.storm_tide_m - sea_level) * np.sin(np.pi * times
                                                                         / duration) ** 2
    return np.array([0.0]), np.array([sea_level])


def run(sc, twin, place: hz.Place, live: dict, progress) -> hz.Outcome:
    """Flood a twin: sea at the tide level, rain, drainage; depth classes on land."""
    p = sc.params
    mesh = from_twin(twin)
    sea = ~twin.ds["is_land"].values.astype(bool)
    sea_level = float(live.get("sea_level_m", p.sea_level_m))
    depth0 = np.where(sea, np.maximum(sea_level - mesh.z_m, 0.0), 0.0)
    if "water_levels" in live:
        wl = live["water_levels"]
        cells = twin.locate(np.asarray(wl["lat"], float), np.asarray(wl["lng"], float))
        ok = cells >= 0
        lv = np.asarray(wl["level_m"], float)[ok]
        depth0[cells[ok]] = np.maximum(lv - mesh.z_m[cells[ok]], depth0[cells[ok]])
    boundary = None
    if sea.any():
        times, levels = _tide(p, sc.duration, sea_level)
        boundary = {"cells": np.flatnonzero(sea), "times_s": times, "level_m": levels}
    ds = _near_land(mesh, sea, twin.neighbors, sc, depth0, _rain(p, twin, place, live), boundary,
                    progress)
    land = ~sea
    peak = np.where(land, ds["max_depth_m"].values, 0.0)
    extras = {"mass_balance": {k: v for k, v in ds.attrs.items() if k.startswith("volume")},
              "max_depth_on_land_m": float(peak.max(initial=0.0)),
              "oscillation_warning": bool(ds.attrs["oscillation_warning"]),
              "oscillation_reason": ds.attrs["oscillation_reason"]}
    return hz.Outcome(ds, CLASSES.classify(peak), land & (peak >= ROAD_CUT_M), extras)


def _near_land(mesh, sea, neighbors, sc, depth0, rain, boundary, progress) -> xr.Dataset:
    """Simulate land and the sea cells touching it; the open sea just follows the level.

    Sea cells are held at the boundary level anyway; leaving out those with no land neighbour
    removes faces that carry nothing and lets the time step follow coastal, not deep, water.
    """
    p = sc.params
    common = {"duration_s": sc.duration, "output_every_s": sc.output_every,
              "manning_n": p.manning_n, "drainage_mm_h": p.drainage_mm_h, "progress": progress}
    valid = neighbors >= 0
    touches_land = np.where(valid, ~sea[np.maximum(neighbors, 0)], False).any(1)
    keep = np.flatnonzero(~sea | touches_land)
    if len(keep) == len(sea) or len(keep) == 0:
        return flood.simulate(mesh, depth0_m=depth0, rain_mm_h=rain, level_boundary=boundary,
                              **common)
    pos = np.full(len(sea), -1)
    pos[keep] = np.arange(len(keep))
    if isinstance(rain, dict) and np.ndim(rain["mm_h"]) == 2:
        rain = {"times_s": rain["times_s"], "mm_h": np.asarray(rain["mm_h"])[:, keep]}
    elif np.ndim(rain) == 1:
        rain = np.asarray(rain)[keep]
    sub_boundary = None
    if boundary is not None:
        cells = pos[boundary["cells"]]
        sub_boundary = dict(boundary, cells=cells[cells >= 0])
        if len(sub_boundary["cells"]) == 0:
            sub_boundary = None
    sub = flood.simulate(mesh.subset(keep), depth0_m=depth0[keep], rain_mm_h=rain,
                         level_boundary=sub_boundary, **common)
    times = sub["time"].values
    level = np.interp(times, boundary["times_s"], boundary["level_m"]) if boundary else \
        np.zeros(len(times))
    open_sea = np.flatnonzero(pos < 0)
    depth = np.maximum(level[:, None] - mesh.z_m[open_sea][None, :], 0.0)
    full = np.empty((len(times), len(sea)), dtype=np.float32)
    full[:, keep] = sub["depth_m"].values
    full[:, open_sea] = depth
    maxd = np.empty(len(sea), dtype=np.float32)
    maxd[keep] = sub["max_depth_m"].values
    maxd[open_sea] = depth.max(0)
    arrival = np.full(len(sea), np.nan)
    arrival[keep] = sub["arrival_s"].values
    return xr.Dataset({"depth_m": (("time", "cell"), full, sub["depth_m"].attrs),
                       "max_depth_m": ("cell", maxd, sub["max_depth_m"].attrs),
                       "arrival_s": ("cell", arrival, sub["arrival_s"].attrs)},
                      coords={"time": sub["time"]},
                      attrs=dict(sub.attrs, simulated_cells=len(keep)))


_MANNING = ("manning_n", "曼宁糙率", "Manning's n")

HAZARD = hz.Hazard(
    name="flood", zh="洪涝", en="Flood", params=FloodParams, runner=run, classes=CLASSES,
    peak_variable="max_depth_m", order=0, needs_location=False, reports_progress=True,
    legend=hz.Legend("depth_m", "m", floor=0.05, log=False),
    figures=(hz.Figure("max_depth_on_land_m", "{:.2f} m", "陆地最大水深", "Max depth on land"),),
    forms=(
        hz.Form("rainstorm", "暴雨内涝", "Rainstorm flood", (
            hz.param("rain_mm_h", "雨强 (mm/h)", "Rain (mm/h)", 60, 0, 300),
            hz.param("rain_radius_km", "降雨半径 (km)", "Rain radius (km)", 10.0, 0.5, 100),
            hz.param("drainage_mm_h", "排水能力 (mm/h)", "Drainage (mm/h)", 20, 0, 200),
            hz.param(*_MANNING, 0.05, 0.01, 0.2, 0.01), *hz.timing(3, 30, "h", "min"))),
        hz.Form("storm_tide", "风暴潮", "Storm tide", (
            hz.param("storm_tide_m", "风暴潮峰值潮位 (m)", "Peak storm tide (m)", 4.0, 0, 10,
                     0.1),
            hz.param("sea_level_m", "起始海平面 (m)", "Initial sea level (m)", 0.0, -2, 3, 0.1),
            hz.param(*_MANNING, 0.04, 0.01, 0.2, 0.01), *hz.timing(12, 30, "h", "min")),
            needs_location=False,
            shows=lambda p: p.storm_tide_m is not None or bool(p.tide_profile)),
    ))
