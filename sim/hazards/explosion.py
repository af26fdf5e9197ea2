"""Explosion hazard entry: a TNT-equivalent surface burst and its overpressure damage zones.

The physics and the cited zone thresholds are `sim.blast`; this module puts the overpressure on
the twin's cells and reports each zone's radius and the built-up area inside it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import Field as Spec

from sim import blast
from sim.hazards import base as hz
from sim.mesh import haversine_m
from sim.spec import Strict
from twin.dataset import LAND_USE_CODE

BUILT_UP = ("residential", "commercial", "industrial", "petrochemical", "port")
NAMES = {  # zone key: (zh, en)
    "glass_breakage": ("玻璃破碎", "Glass breakage"),
    "minor_damage": ("轻微损坏", "Minor damage"),
    "houses_uninhabitable": ("房屋不可居住", "Uninhabitable"),
    "partial_collapse": ("局部倒塌", "Partial collapse"),
    "severe_damage": ("严重破坏", "Severe damage"),
    "total_destruction": ("完全摧毁", "Total destruction"),
    "lung_damage": ("人员肺损伤阈值", "Lung damage threshold"),
}
CLASSES = hz.Classes(tuple(hz.Level(z.key, z.kpa, *NAMES[z.key]) for z in blast.ZONES),
                     unit="kPa", numbered=False)


class ExplosionParams(Strict):
    """A TNT-equivalent surface burst."""

    tnt_kg: float = Spec(gt=0)


def run(sc, twin, place: hz.Place, live: dict, progress) -> hz.Outcome:
    """Peak overpressure on every cell; zones by the cited thresholds; roads cut in the worst."""
    p = sc.params
    d = haversine_m(twin.centers[0], twin.centers[1], place.lat, place.lng)
    kpa = blast.overpressure_kpa(p.tnt_kg, np.maximum(d, 1.0))
    ds = xr.Dataset({"overpressure_kpa": (("time", "cell"), kpa[None, :].astype(np.float32),
                                          {"units": "kPa", "long_name": "peak overpressure"})},
                    coords={"time": ("time", [0.0], {"units": "s"})},
                    attrs={"model": "Kingery-Bulmash hemispherical surface burst",
                           "tnt_kg": p.tnt_kg})
    level = CLASSES.classify(kpa)
    built = np.isin(twin.ds["land_use"].values, [LAND_USE_CODE[k] for k in BUILT_UP])
    area = np.bincount(level, weights=np.where(built, twin.area_m2, 0.0),
                       minlength=len(blast.ZONES) + 1)
    extras = {"tnt_kg": p.tnt_kg,
              "zone_radius_m": {z.key: round(blast.zone_radius_m(p.tnt_kg, z.kpa), 1)
                                for z in blast.ZONES},
              "built_up_km2_by_zone": {z.key: round(float(area[k + 1]) / 1e6, 3)
                                       for k, z in enumerate(blast.ZONES)},
              "zone_descriptions": {z.key: f"{z.description} (>= {z.kpa:g} kPa, {z.psi:g} psi; "
                                           f"{z.source})" for z in blast.ZONES}}
    return hz.Outcome(ds, level, level >= 4, extras)


HAZARD = hz.Hazard(
    name="explosion", zh="爆炸", en="Explosion", params=ExplosionParams, runner=run,
    classes=CLASSES, peak_variable="overpressure_kpa", order=2,
    legend=hz.Legend("overpressure_kpa", "kPa"),
    forms=(hz.Form("explosion", "爆炸", "Explosion", (
        hz.param("tnt_kg", "TNT当量 (kg)", "TNT equivalent (kg)", 1000, 1, 1e7, 100),
        *hz.timing(60, 60, "s", "s")), facility_kinds=("hazchem_site",)),))
