"""Toxic-release hazard entry: a steady Gaussian plume of a chemical and its AEGL zones.

The physics is `sim.plume` (Gaussian plume, Pasquill-Gifford classes); the severity classes are
the chemical's AEGL-1/2/3 (60-minute) levels, so their thresholds are set per run by the chemical.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from pydantic import Field as Spec
from pydantic import field_validator

from sim import plume, weather
from sim.hazards import base as hz
from sim.spec import Strict

CLASSES = hz.Classes((hz.Level("AEGL-1", None, "AEGL-1 不适", "AEGL-1 discomfort"),
                      hz.Level("AEGL-2", None, "AEGL-2 严重", "AEGL-2 disabling"),
                      hz.Level("AEGL-3", None, "AEGL-3 致命", "AEGL-3 lethal")), unit="ppm")


class ToxicParams(Strict):
    """A steady release of a chemical into a wind of given direction, speed and stability."""

    chemical: str
    release_g_s: float = Spec(gt=0)
    wind_from_deg: float = Spec(ge=0, le=360, description="direction the wind blows FROM")
    wind_speed_m_s: float = Spec(gt=0)
    stability: Literal["A", "B", "C", "D", "E", "F"] = "D"
    terrain: Literal["rural", "urban"] = "urban"
    sigma: Literal["briggs", "pg"] = "briggs"
    release_height_m: float = Spec(0.0, ge=0)

    @field_validator("chemical")
    @classmethod
    def _known(cls, value: str) -> str:
        plume.chemical(value)
        return value


def wind(p: ToxicParams, place: hz.Place, live: dict) -> tuple[float, float, str, dict | None]:
    """(wind from, wind speed, stability, record of the live readings used or None).

    Live values given as such win; else the nearest weather station's readings
    (`live['weather_stations']`, see `sim.weather`); else the scenario's parameters."""
    stations = live.get("weather_stations")
    if stations and not ({"wind_from_deg", "wind_speed_m_s", "stability"} & set(live)):
        found = weather.at_point(stations, place.lat, place.lng)
        if found is not None:
            return found.wind_from_deg, found.wind_speed_m_s, found.stability, found.record()
    return (float(live.get("wind_from_deg", p.wind_from_deg)),
            float(live.get("wind_speed_m_s", p.wind_speed_m_s)),
            str(live.get("stability", p.stability)), None)


def on_twin(p: ToxicParams, twin, place: hz.Place,
            live: dict) -> tuple[dict, float, float, str, dict | None]:
    """(plume fields on the twin's cells, wind from, wind speed, stability, record of the live
    readings used or None); live wind wins."""
    wind_from, wind_speed, stability, used = wind(p, place, live)
    clat, clng = twin.centers
    out = plume.on_cells(clat, clng, source_lat=place.lat, source_lng=place.lng,
                         chemical_name=p.chemical, release_g_s=p.release_g_s,
                         wind_from_deg=wind_from, wind_speed_m_s=wind_speed, stability=stability,
                         terrain=p.terrain, sigma=p.sigma, release_height_m=p.release_height_m,
                         source_index=place.pos)
    return out, wind_from, wind_speed, stability, used


def run(sc, twin, place: hz.Place, live: dict, progress) -> hz.Outcome:
    """The plume on the twin, its front moving out at the wind speed; AEGL classes."""
    p = sc.params
    out, wind_from, wind_speed, stability, used = on_twin(p, twin, place, live)
    times = np.arange(0.0, sc.duration + 1e-9, sc.output_every)
    reached = out["x_m"][None, :] <= wind_speed * times[:, None]  # the plume front moves at u
    ppm = np.where(reached, out["ppm"][None, :], 0.0).astype(np.float32)
    ds = xr.Dataset({"concentration_ppm": (("time", "cell"), ppm, {"units": "ppm"}),
                     "max_ppm": ("cell", out["ppm"], {"units": "ppm"})},
                    coords={"time": ("time", times, {"units": "s"})},
                    attrs={"model": "Gaussian plume, Pasquill-Gifford", "chemical": p.chemical,
                           "wind_from_deg": wind_from, "wind_speed_m_s": wind_speed,
                           "stability": stability,
                           **({"live_weather": used} if used else {})})
    _, aegl = plume.chemical(p.chemical)
    extras = {"chemical": p.chemical, "aegl_ppm": [None if np.isnan(a) else float(a)
                                                   for a in aegl],
              "wind_from_deg": wind_from, "wind_speed_m_s": wind_speed, "stability": stability,
              **({"live_weather": used} if used else {})}
    return hz.Outcome(ds, out["aegl"], out["aegl"] >= 2, extras)


def peak(result) -> hz.Peak:
    """Peak ppm with the chemical's AEGL levels (levels 'not recommended' left out)."""
    ds = result.ds
    labels = ds["severity"].attrs["flag_meanings"].split()[1:]
    _, aegl = plume.chemical(ds.attrs["chemical"])
    keep = [k for k, a in enumerate(aegl) if np.isfinite(a)]
    return hz.Peak("max_ppm", ds["max_ppm"].values, [float(aegl[k]) for k in keep],
                [labels[k] for k in keep])


HAZARD = hz.Hazard(
    name="toxic_release", zh="有毒气体泄漏", en="Toxic release", params=ToxicParams,
    runner=run,
    classes=CLASSES, peak_variable="max_ppm", peak_of=peak, order=1,
    legend=hz.Legend("concentration_ppm", "ppm"),
    forms=(hz.Form("toxic_release", "有毒气体泄漏", "Toxic release", (
        hz.param("chemical", "化学品", "Chemical", "chlorine", options=tuple(plume.CHEMICALS)),
        hz.param("release_g_s", "泄漏速率 (g/s)", "Release rate (g/s)", 5000, 1, 1e6, 100),
        hz.param("wind_from_deg", "风向 (来向, °)", "Wind from (°)", 45, 0, 360, 5),
        hz.param("wind_speed_m_s", "风速 (m/s)", "Wind speed (m/s)", 3.0, 0.5, 30, 0.5),
        hz.param("stability", "大气稳定度", "Stability class", "D", options=tuple("ABCDEF")),
        hz.param("terrain", "地形", "Terrain", "urban", options=("urban", "rural")),
        hz.param("release_height_m", "泄漏高度 (m)", "Release height (m)", 2.0, 0, 200),
        *hz.timing(60, 5, "min", "min")), facility_kinds=("hazchem_site",)),))
