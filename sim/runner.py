"""Run a scenario on a twin: place it, call the model, put the result on the twin's cells.

`run(scenario, twin, live=...)` returns a `Result`: `ds` (time x cell on the twin's `cell_ids`,
with the hazard's fields and a per-cell `severity` class) and `impact` (see `sim.impact`).
Live readings enter as plain arrays in `live` (the dashboard feeds them; see LIVE_KEYS).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from sim import blast, epidemic, evacuation, flood, plume
from sim import impact as impact_mod
from sim.mesh import from_twin, haversine_m
from sim.scenario import Scenario, ScenarioError
from twin import netcdf
from twin.dataset import LAND_USE_CODE

LIVE_KEYS = {
    "rain_mm_h": "scalar or per-cell array of current rain (mm/h), held for the run",
    "rain_gauges": "{'lat': [...], 'lng': [...], 'mm_h': [...]} interpolated to cells (IDW)",
    "sea_level_m": "current sea level (m); the storm tide is added on top of it",
    "water_levels": "{'lat': [...], 'lng': [...], 'level_m': [...]} water in the gauges' cells",
    "wind_from_deg": "current wind direction (degrees the wind blows from)",
    "wind_speed_m_s": "current wind speed (m/s)",
    "stability": "current Pasquill-Gifford class A-F",
}

# severity classes per hazard: (labels, thresholds on the peak field); see sim.impact
BUILT_UP = ("residential", "commercial", "industrial", "petrochemical", "port")
FLOOD_DEPTH_M = (0.15, 0.5, 1.5)  # GB 51222-2017 road limit 0.15 m; cars float; life-threatening
FLOOD_ROAD_CUT_M = 0.3
EPIDEMIC_ATTACK = (0.01, 0.1, 0.3)


@dataclass
class Result:
    """A scenario's output on the twin's cells plus its impact summary."""

    scenario: Scenario
    ds: xr.Dataset
    impact: dict = field(default_factory=dict)

    def to_netcdf(self, path) -> None:
        """Write ds with the scenario and impact as JSON attributes (CF-1.10 + xdggs: `time` in
        seconds since the run's start, see `twin.netcdf`)."""
        ds = self.ds.copy()
        ds.attrs["scenario_json"] = self.scenario.to_json()
        ds.attrs["impact_json"] = json.dumps(self.impact, ensure_ascii=False,
                                             default=_jsonable)
        netcdf.write(ds, path)

    @staticmethod
    def from_netcdf(path) -> Result:
        """Read a result written by `to_netcdf`."""
        ds = netcdf.read(path, relative_time=True)
        if "scenario_json" not in ds.attrs or "impact_json" not in ds.attrs:
            raise ScenarioError(f"{path} is not a simulation result (written by `cityops sim run`)")
        scenario = Scenario.model_validate_json(ds.attrs.pop("scenario_json"))
        impact = json.loads(ds.attrs.pop("impact_json"))
        return Result(scenario, ds, impact)


def _jsonable(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def locate(scenario: Scenario, twin) -> tuple[float, float, int]:
    """(lat, lng, cell position) of the scenario's location on the twin."""
    loc = scenario.location
    if loc is None:
        lat, lng = (float(np.mean(twin.centers[0])), float(np.mean(twin.centers[1])))
    elif loc.facility is not None:
        fac = twin.facilities
        hit = fac[fac["id"].astype(str) == loc.facility] if "id" in fac else fac.iloc[:0]
        if hit.empty:
            examples = ", ".join(map(str, fac["id"].head(3))) if "id" in fac else ""
            raise ScenarioError(f"location.facility {loc.facility!r} is not in the twin's "
                                f"facilities (ids like {examples})")
        lat, lng = float(hit.geometry.iloc[0].y), float(hit.geometry.iloc[0].x)
    else:
        lat, lng = loc.lat, loc.lng
        if loc.crs != "wgs84":
            lat, lng = (float(v) for v in twin.crs.to_wgs84(np.array([lat]), np.array([lng]),
                                                            loc.crs))
    pos = int(twin.locate(np.array([lat]), np.array([lng]))[0])
    if pos < 0:
        raise ScenarioError(f"location ({lat:.5f}, {lng:.5f}) is outside the twin {twin.name!r}: "
                            "choose a point inside it")
    return lat, lng, pos


def _idw(twin, gauges: dict, key: str) -> np.ndarray:
    """Inverse-distance-squared interpolation of gauge values to cell centres."""
    glat, glng = np.asarray(gauges["lat"], float), np.asarray(gauges["lng"], float)
    values = np.asarray(gauges[key], float)
    if not len(glat) == len(glng) == len(values) > 0:
        raise ScenarioError(f"live gauges need equal, non-empty 'lat', 'lng', '{key}' arrays")
    lat, lng = twin.centers
    d = haversine_m(lat[:, None], lng[:, None], glat[None, :], glng[None, :])
    w = 1.0 / np.maximum(d, 1.0) ** 2
    return (w * values).sum(1) / w.sum(1)


def _check_live(live: dict | None) -> dict:
    live = dict(live or {})
    unknown = set(live) - set(LIVE_KEYS)
    if unknown:
        raise ScenarioError(f"unknown live inputs {sorted(unknown)}: use {', '.join(LIVE_KEYS)}")
    return live


def run(scenario: Scenario, twin, *, live: dict | None = None,
        progress: Callable[[float], None] | None = None) -> Result:
    """Run a scenario on a twin; `live` holds current readings (see LIVE_KEYS)."""
    live = _check_live(live)
    lat, lng, pos = locate(scenario, twin)
    runner = {"flood": _flood, "toxic_release": _toxic, "explosion": _explosion,
              "epidemic": _epidemic, "evacuation": _evacuation}[scenario.hazard]
    ds, severity, labels, roads_cut, extras = runner(scenario, twin, lat, lng, pos, live,
                                                     progress)
    ds = ds.assign_coords(cell_ids=("cell", twin.cell_ids, dict(twin.ds["cell_ids"].attrs)))
    ds["severity"] = ("cell", severity.astype(np.int8), {
        "long_name": "severity class", "flag_values": np.arange(len(labels) + 1, dtype=np.int8),
        "flag_meanings": " ".join(["none", *labels])})
    ds.attrs.update({"scenario": scenario.name, "hazard": scenario.hazard,
                     "source_lat": lat, "source_lng": lng})
    impact = impact_mod.summarise(twin, severity, labels, roads_cut)
    impact.update({"name": scenario.name, "hazard": scenario.hazard, **extras})
    if progress is not None:
        progress(1.0)
    return Result(scenario, ds, impact)


def _classes(values: np.ndarray, thresholds) -> np.ndarray:
    return np.searchsorted(np.asarray(thresholds, float), values, side="right").astype(np.int8)


def _flood(sc, twin, lat, lng, pos, live, progress):
    p = sc.params
    n = len(twin)
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
    rain = None
    if "rain_gauges" in live:
        rain = _idw(twin, live["rain_gauges"], "mm_h")
    elif "rain_mm_h" in live:
        rain = np.broadcast_to(np.asarray(live["rain_mm_h"], float), (n,)).copy()
    elif p.hyetograph:
        hours, mm = zip(*p.hyetograph, strict=True)
        rain = {"times_s": np.array(hours) * 3600.0, "mm_h": np.array(mm)}
    elif p.rain_mm_h:
        rain = p.rain_mm_h
    if rain is not None and p.rain_radius_km:
        d = haversine_m(twin.centers[0], twin.centers[1], lat, lng)
        mask = (d <= p.rain_radius_km * 1000.0).astype(float)
        if isinstance(rain, dict):
            rain = {"times_s": rain["times_s"], "mm_h": np.asarray(rain["mm_h"])[:, None] * mask}
        else:
            rain = rain * mask
    boundary = None
    if sea.any():
        if p.tide_profile:
            hours, level = zip(*p.tide_profile, strict=True)
            times, levels = np.array(hours) * 3600.0, np.array(level)
        elif p.storm_tide_m is not None:
            times = np.linspace(0.0, sc.duration, 49)
            levels = sea_level + (p.storm_tide_m - sea_level) * np.sin(np.pi * times
                                                                      / sc.duration) ** 2
        else:
            times, levels = np.array([0.0]), np.array([sea_level])
        boundary = {"cells": np.flatnonzero(sea), "times_s": times, "level_m": levels}
    ds = _flood_near_land(mesh, sea, twin.neighbors, sc, depth0, rain, boundary, p, progress)
    land = ~sea
    peak = np.where(land, ds["max_depth_m"].values, 0.0)
    severity = _classes(peak, FLOOD_DEPTH_M)
    roads_cut = land & (peak >= FLOOD_ROAD_CUT_M)
    extras = {"mass_balance": {k: v for k, v in ds.attrs.items() if k.startswith("volume")},
              "max_depth_on_land_m": float(peak.max(initial=0.0))}
    return ds, severity, ["ponding>=0.15m", "deep>=0.5m", "dangerous>=1.5m"], roads_cut, extras


def _flood_near_land(mesh, sea, neighbors, sc, depth0, rain, boundary, p, progress):
    """Simulate land and the sea cells touching it; the open sea just follows the level.

    Sea cells are held at the boundary level anyway; leaving out those with no land neighbour
    removes faces that carry nothing and lets the time step follow coastal, not deep, water.
    """
    valid = neighbors >= 0
    touches_land = np.where(valid, ~sea[np.maximum(neighbors, 0)], False).any(1)
    keep = np.flatnonzero(~sea | touches_land)
    if len(keep) == len(sea) or len(keep) == 0:
        return flood.simulate(mesh, duration_s=sc.duration, output_every_s=sc.output_every,
                              depth0_m=depth0, rain_mm_h=rain, level_boundary=boundary,
                              manning_n=p.manning_n, drainage_mm_h=p.drainage_mm_h,
                              progress=progress)
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
    sub = flood.simulate(mesh.subset(keep), duration_s=sc.duration,
                         output_every_s=sc.output_every, depth0_m=depth0[keep], rain_mm_h=rain,
                         level_boundary=sub_boundary, manning_n=p.manning_n,
                         drainage_mm_h=p.drainage_mm_h, progress=progress)
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


def _toxic_fields(p, twin, lat, lng, pos, live):
    wind_from = float(live.get("wind_from_deg", p.wind_from_deg))
    wind_speed = float(live.get("wind_speed_m_s", p.wind_speed_m_s))
    stability = str(live.get("stability", p.stability))
    clat, clng = twin.centers
    out = plume.on_cells(clat, clng, source_lat=lat, source_lng=lng, chemical_name=p.chemical,
                         release_g_s=p.release_g_s, wind_from_deg=wind_from,
                         wind_speed_m_s=wind_speed, stability=stability, terrain=p.terrain,
                         sigma=p.sigma, release_height_m=p.release_height_m, source_index=pos)
    return out, wind_from, wind_speed, stability


def _toxic(sc, twin, lat, lng, pos, live, progress):
    p = sc.params
    out, wind_from, wind_speed, stability = _toxic_fields(p, twin, lat, lng, pos, live)
    times = np.arange(0.0, sc.duration + 1e-9, sc.output_every)
    reached = out["x_m"][None, :] <= wind_speed * times[:, None]  # the plume front moves at u
    ppm = np.where(reached, out["ppm"][None, :], 0.0).astype(np.float32)
    ds = xr.Dataset({"concentration_ppm": (("time", "cell"), ppm, {"units": "ppm"}),
                     "max_ppm": ("cell", out["ppm"], {"units": "ppm"})},
                    coords={"time": ("time", times, {"units": "s"})},
                    attrs={"model": "Gaussian plume, Pasquill-Gifford", "chemical": p.chemical,
                           "wind_from_deg": wind_from, "wind_speed_m_s": wind_speed,
                           "stability": stability})
    _, aegl = plume.chemical(p.chemical)
    extras = {"chemical": p.chemical, "aegl_ppm": [None if np.isnan(a) else float(a)
                                                   for a in aegl],
              "wind_from_deg": wind_from, "wind_speed_m_s": wind_speed, "stability": stability}
    return ds, out["aegl"], ["AEGL-1", "AEGL-2", "AEGL-3"], out["aegl"] >= 2, extras


def _explosion(sc, twin, lat, lng, pos, live, progress):
    p = sc.params
    d = haversine_m(twin.centers[0], twin.centers[1], lat, lng)
    kpa = blast.overpressure_kpa(p.tnt_kg, np.maximum(d, 1.0))
    ds = xr.Dataset({"overpressure_kpa": (("time", "cell"), kpa[None, :].astype(np.float32),
                                          {"units": "kPa", "long_name": "peak overpressure"})},
                    coords={"time": ("time", [0.0], {"units": "s"})},
                    attrs={"model": "Kingery-Bulmash hemispherical surface burst",
                           "tnt_kg": p.tnt_kg})
    level = blast.zone_level(kpa)
    built = np.isin(twin.ds["land_use"].values, [LAND_USE_CODE[k] for k in BUILT_UP])
    area = np.bincount(level, weights=np.where(built, twin.area_m2, 0.0),
                       minlength=len(blast.ZONES) + 1)
    extras = {"tnt_kg": p.tnt_kg, "zone_radius_m": {
        key: round(blast.zone_radius_m(p.tnt_kg, kpa_t), 1) for key, kpa_t, _ in blast.ZONES},
        "built_up_km2_by_zone": {key: round(float(area[k + 1]) / 1e6, 3)
                                 for k, (key, _, _) in enumerate(blast.ZONES)},
        "zone_descriptions": {key: text for key, _, text in blast.ZONES}}
    return ds, level, [z[0] for z in blast.ZONES], level >= 4, extras


def _unit_cells(twin, names) -> np.ndarray:
    if names == "all":
        return np.arange(len(twin))
    cells = []
    for name in names:
        try:
            cells.append(twin.cells_in(name))
        except KeyError as exc:
            raise ScenarioError(f"parameters.interventions.units: {exc.args[0]}") from None
    return np.concatenate(cells) if cells else np.empty(0, np.int64)


def _epidemic(sc, twin, lat, lng, pos, live, progress):
    p = sc.params
    pop = twin.ds["population"].values.astype(float)
    days = max(int(round(sc.duration / 86400.0)), 1)
    ivs = [{"cells": _unit_cells(twin, iv.units), "from_day": iv.from_day,
            "contact_reduction": iv.contact_reduction} for iv in p.interventions]
    ds = epidemic.simulate(pop, twin.neighbors, r0=p.r0, latent_days=p.latent_days,
                           infectious_days=p.infectious_days, mobility=p.mobility,
                           seed_infections={pos: p.seed_infections}, days=days,
                           interventions=ivs)
    every = max(int(round(sc.output_every / 86400.0)), 1)
    ds = ds.isel(time=slice(0, None, every))
    ever = pop - ds["S"].values[-1]
    attack = np.divide(ever, pop, out=np.zeros_like(pop), where=pop > 0)
    ds["attack_rate"] = ("cell", attack, {"units": "1"})
    extras = {"people_infected": float(ever.sum()),
              "peak_infectious": float(ds["I"].sum("cell").max()),
              "peak_day": int(ds["day"].values[int(np.argmax(ds["I"].sum("cell").values))]),
              "people_conservation_error": ds.attrs["people_conservation_error"]}
    labels = ["attack>=1%", "attack>=10%", "attack>=30%"]
    return ds, _classes(attack, EPIDEMIC_ATTACK), labels, np.zeros(len(twin), bool), extras


def _evacuation(sc, twin, lat, lng, pos, live, progress):
    p = sc.params
    if p.toxic is not None:
        out, *_ = _toxic_fields(p.toxic, twin, lat, lng, pos, live)
        zone = out["aegl"] >= p.aegl_level
    else:
        zone = haversine_m(twin.centers[0], twin.centers[1], lat, lng) <= p.radius_km * 1000.0
    fac = twin.facilities
    shelters = fac[fac["kind"] == "shelter"] if "kind" in fac else fac.iloc[:0]
    cells = twin.locate(shelters.geometry.y.values, shelters.geometry.x.values)
    ok = (cells >= 0) & ~zone[np.maximum(cells, 0)]  # shelters inside the zone are not safe
    if not ok.any():
        raise ScenarioError("no shelter of the twin lies outside the evacuation zone: add "
                            "facilities of kind 'shelter' or shrink the zone")
    people = np.where(zone, twin.ds["population"].values.astype(float), 0.0)
    flow, speed = evacuation.flow_capacity_from_twin(
        twin, p.mode, walk_width_m=p.walk_width_m, persons_per_vehicle=p.persons_per_vehicle)
    mesh = from_twin(twin)
    ds = evacuation.simulate(mesh, people, cells[ok], shelters["capacity"].values[ok],
                             flow_p_s=flow, speed_m_s=speed, duration_s=sc.duration,
                             output_every_s=sc.output_every)
    ids = np.array([str(i) for i in shelters["id"]], dtype=object)[ok]
    ds = ds.assign_coords(shelter_id=("shelter", ids))
    bottlenecks = [int(c) for c in ds.attrs["bottleneck_cells"]]
    from twin.cells import to_hex

    extras = {"clearance_s": ds.attrs["clearance_s"], "people_to_evacuate": float(people.sum()),
              "people_without_shelter": ds.attrs["people_without_shelter"],
              "evacuated_share_end": float(ds["evacuated_share"].values[-1]),
              "shelter_loads": {i: float(v) for i, v in zip(ids, ds["shelter_load"].values,
                                                            strict=True) if v > 0},
              "bottleneck_cells": to_hex(twin.cell_ids[bottlenecks])}
    ds.attrs["bottleneck_cells"] = np.asarray(bottlenecks, dtype=np.int64)
    return ds, zone.astype(np.int8), ["evacuation_zone"], np.zeros(len(twin), bool), extras


def peak_field(result: Result) -> tuple[str, np.ndarray, list[float], list[str]]:
    """(name, per-cell peak values, thresholds, labels) that severity classes are cut from."""
    ds, hazard = result.ds, result.scenario.hazard
    labels = ds["severity"].attrs["flag_meanings"].split()[1:]
    if hazard == "flood":
        land = ds["severity"].values >= 0
        return "max_depth_m", ds["max_depth_m"].values * land, list(FLOOD_DEPTH_M), labels
    if hazard == "toxic_release":
        _, aegl = plume.chemical(ds.attrs["chemical"])
        keep = [k for k, a in enumerate(aegl) if np.isfinite(a)]
        return "max_ppm", ds["max_ppm"].values, [float(aegl[k]) for k in keep], \
            [labels[k] for k in keep]
    if hazard == "explosion":
        return ("overpressure_kpa", ds["overpressure_kpa"].values[0],
                [z[1] for z in blast.ZONES], labels)
    if hazard == "epidemic":
        return "attack_rate", ds["attack_rate"].values, list(EPIDEMIC_ATTACK), labels
    return "remaining_end", ds["remaining"].values[-1], [1.0], ["not_sheltered"]
