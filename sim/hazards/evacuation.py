"""Evacuation hazard entry: people leave a zone (a radius or a release's AEGL zone) for shelters.

The physics is `sim.evacuation`; severity marks the evacuation zone, and the peak field is the
number of people not yet sheltered at the end of the run.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field as Spec
from pydantic import model_validator

from sim import evacuation
from sim.hazards import base as hz
from sim.hazards.toxic_release import ToxicParams, on_twin
from sim.mesh import from_twin, haversine_m
from sim.spec import ScenarioError, Strict
from twin.cells import to_hex

CLASSES = hz.Classes((hz.Level("evacuation_zone", None, "疏散区", "Evacuation zone"),))


class EvacuationParams(Strict):
    """Who leaves (a radius, or a toxic release's AEGL zone) and how (walking, driving)."""

    radius_km: float | None = Spec(None, gt=0)
    toxic: ToxicParams | None = None
    aegl_level: Literal[1, 2, 3] = 2
    mode: Literal["walk", "drive"] = "walk"
    walk_width_m: float = Spec(20.0, gt=0)
    persons_per_vehicle: float = Spec(2.0, gt=0)

    @model_validator(mode="after")
    def _zone(self) -> EvacuationParams:
        if (self.radius_km is None) == (self.toxic is None):
            raise ValueError("give either radius_km or toxic (a release whose AEGL zone "
                             "is evacuated)")
        return self


def run(sc, twin, place: hz.Place, live: dict, progress) -> hz.Outcome:
    """Move the zone's residents to the shelters outside it; clearance, loads, bottlenecks."""
    p = sc.params
    if p.toxic is not None:
        out, *_ = on_twin(p.toxic, twin, place, live)
        zone = out["aegl"] >= p.aegl_level
    else:
        zone = haversine_m(twin.centers[0], twin.centers[1], place.lat,
                           place.lng) <= p.radius_km * 1000.0
    fac = twin.facilities
    shelters = fac[fac["kind"] == "shelter"] if "kind" in fac else fac.iloc[:0]
    cells = twin.locate(shelters.geometry.y.values, shelters.geometry.x.values)
    ok = (cells >= 0) & ~zone[np.maximum(cells, 0)]  # shelters inside the zone are not safe
    if not ok.any():
        raise ScenarioError("no shelter of the twin lies outside the evacuation zone: add "
                            "facilities of kind 'shelter' or shrink the zone")
    people = np.where(zone, twin.ds["population"].values.astype(float), 0.0)
    mesh = from_twin(twin)
    roads = evacuation.roads_from_twin(
        twin, p.mode, evacuation.cell_lengths(mesh), walk_width_m=p.walk_width_m,
        persons_per_vehicle=p.persons_per_vehicle)
    ds = evacuation.simulate(mesh, people, cells[ok], shelters["capacity"].values[ok],
                             flow_p_s=roads.flow_p_s, speed_m_s=roads.speed_m_s,
                             storage_p=roads.storage_p, wave_speed_m_s=roads.wave_speed_m_s,
                             duration_s=sc.duration, output_every_s=sc.output_every)
    ids = np.array([str(i) for i in shelters["id"]], dtype=object)[ok]
    ds = ds.assign_coords(shelter_id=("shelter", ids))
    bottlenecks = [int(c) for c in ds.attrs["bottleneck_cells"]]
    extras = {"clearance_s": ds.attrs["clearance_s"], "people_to_evacuate": float(people.sum()),
              "people_without_shelter": ds.attrs["people_without_shelter"],
              "evacuated_share_end": float(ds["evacuated_share"].values[-1]),
              "shelter_loads": {i: float(v) for i, v in zip(ids, ds["shelter_load"].values,
                                                            strict=True) if v > 0},
              "bottleneck_cells": to_hex(twin.cell_ids[bottlenecks])}
    ds.attrs["bottleneck_cells"] = np.asarray(bottlenecks, dtype=np.int64)
    return hz.Outcome(ds, zone.astype(np.int8), np.zeros(len(twin), bool), extras)


def peak(result) -> hz.Peak:
    """People still not sheltered at the end of the run (one class: any at all)."""
    return hz.Peak("remaining_end", result.ds["remaining"].values[-1], [1.0], ["not_sheltered"])


HAZARD = hz.Hazard(
    name="evacuation", zh="人员疏散", en="Evacuation", params=EvacuationParams, runner=run,
    classes=CLASSES, peak_variable="remaining", peak_of=peak, order=4,
    legend=hz.Legend("remaining", "persons", floor=1.0, top="data"),
    figures=(hz.Figure("clearance_s", "{:.0f} min", "疏散完成时间", "Clearance time",
                       1 / 60),),
    forms=(hz.Form("evacuation", "人员疏散", "Evacuation", (
        hz.param("radius_km", "疏散半径 (km)", "Evacuation radius (km)", 2.0, 0.1, 50, 0.1),
        hz.param("mode", "疏散方式", "Mode", "walk", options=("walk", "drive")),
        *hz.timing(4, 10, "h", "min")), facility_kinds=("hazchem_site", "school", "hospital")),))
