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

from sim import hazards
from sim import impact as impact_mod
from sim.hazards.base import Peak, Place
from sim.scenario import Scenario, ScenarioError
from twin import netcdf

LIVE_KEYS = {
    "rain_mm_h": "scalar or per-cell array of current rain (mm/h), held for the run",
    "rain_gauges": "{'lat': [...], 'lng': [...], 'mm_h': [...]} interpolated to cells (IDW)",
    "sea_level_m": "current sea level (m); the storm tide is added on top of it",
    "water_levels": "{'lat': [...], 'lng': [...], 'level_m': [...]} water in the gauges' cells",
    "wind_from_deg": "current wind direction (degrees the wind blows from)",
    "wind_speed_m_s": "current wind speed (m/s)",
    "stability": "current Pasquill-Gifford class A-F",
    "weather_stations": "{'lat', 'lng', 'wind_speed_m_s', 'wind_from_deg', 'cloud_tenths': "
                        "[...], 'as_of': unix s}: wind and stability at the release point "
                        "from the nearest station (sim.weather), recorded in the result",
}


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
                                             default=jsonable)
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


def jsonable(obj):
    """numpy scalars and arrays as plain JSON values (a `default=` for json.dump)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def locate(scenario: Scenario, twin) -> Place:
    """Where the scenario happens on the twin: lat, lng and the cell position."""
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
    return Place(lat, lng, pos)


def _check_live(live: dict | None) -> dict:
    live = dict(live or {})
    unknown = set(live) - set(LIVE_KEYS)
    if unknown:
        raise ScenarioError(f"unknown live inputs {sorted(unknown)}: use {', '.join(LIVE_KEYS)}")
    return live


def run(scenario: Scenario, twin, *, live: dict | None = None,
        progress: Callable[[float], None] | None = None) -> Result:
    """Run a scenario on a twin through its hazard's entry; `live` holds current readings."""
    live = _check_live(live)
    place = locate(scenario, twin)
    hazard = hazards.get(scenario.hazard)
    out = hazard.runner(scenario, twin, place, live, progress)
    labels = hazard.classes.labels()
    ds = out.ds.assign_coords(cell_ids=("cell", twin.cell_ids, dict(twin.ds["cell_ids"].attrs)))
    ds["severity"] = ("cell", out.severity.astype(np.int8), {
        "long_name": "severity class", "flag_values": np.arange(len(labels) + 1, dtype=np.int8),
        "flag_meanings": " ".join(["none", *labels])})
    ds.attrs.update({"scenario": scenario.name, "hazard": scenario.hazard,
                     "source_lat": place.lat, "source_lng": place.lng})
    impact = impact_mod.summarise(twin, out.severity, labels, out.roads_cut)
    impact.update({"name": scenario.name, "hazard": scenario.hazard, **out.extras})
    if progress is not None:
        progress(1.0)
    return Result(scenario, ds, impact)


def peak_field(result: Result) -> Peak:
    """(name, per-cell peak values, thresholds, labels) that severity classes are cut from."""
    return hazards.get(result.scenario.hazard).peak(result)
