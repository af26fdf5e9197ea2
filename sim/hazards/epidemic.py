"""Epidemic hazard entry: metapopulation SEIR seeded at a place, with unit interventions.

The physics is `sim.epidemic`; severity is the attack rate (share of residents ever infected).
Its classes (1 %, 10 %, 30 %) are planning bands chosen for the map, not published thresholds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field as Spec

from sim import epidemic
from sim.hazards import base as hz
from sim.spec import ScenarioError, Strict

CLASSES = hz.Classes((hz.Level("attack", 0.01, "罹患率", "Attack"),
                      hz.Level("attack", 0.10, "罹患率", "Attack"),
                      hz.Level("attack", 0.30, "罹患率", "Attack")), unit="%", scale=100.0)


class Intervention(Strict):
    """Contact reduction in some units (street/town names or ids) from a day on."""

    units: list[str] | Literal["all"] = "all"
    from_day: float = Spec(ge=0)
    contact_reduction: float = Spec(ge=0, le=1)


class EpidemicParams(Strict):
    """SEIR parameters and the seed."""

    r0: float = Spec(gt=0)
    latent_days: float = Spec(gt=0)
    infectious_days: float = Spec(gt=0)
    mobility: float = Spec(0.1, ge=0, le=1)
    seed_infections: float = Spec(10, gt=0)
    interventions: list[Intervention] = []


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


def run(sc, twin, place: hz.Place, live: dict, progress) -> hz.Outcome:
    """SEIR over the twin's cells, seeded in the scenario's cell; attack-rate classes."""
    p = sc.params
    pop = twin.ds["population"].values.astype(float)
    days = max(int(round(sc.duration / 86400.0)), 1)
    ivs = [{"cells": _unit_cells(twin, iv.units), "from_day": iv.from_day,
            "contact_reduction": iv.contact_reduction} for iv in p.interventions]
    ds = epidemic.simulate(pop, twin.neighbors, r0=p.r0, latent_days=p.latent_days,
                           infectious_days=p.infectious_days, mobility=p.mobility,
                           seed_infections={place.pos: p.seed_infections}, days=days,
                           interventions=ivs)
    every = max(int(round(sc.output_every / 86400.0)), 1)
    ds = ds.isel(time=slice(0, None, every))
    ever = pop - ds["S"].values[-1]
    attack = np.divide(ever, pop, out=np.zeros_like(pop), where=pop > 0)
    ds["attack_rate"] = ("cell", attack, {"units": "1"})
    total_i = ds["I"].sum("cell").values
    extras = {"people_infected": float(ever.sum()), "peak_infectious": float(total_i.max()),
              "peak_day": int(ds["day"].values[int(np.argmax(total_i))]),
              "people_conservation_error": ds.attrs["people_conservation_error"]}
    return hz.Outcome(ds, CLASSES.classify(attack), np.zeros(len(twin), bool), extras)


HAZARD = hz.Hazard(
    name="epidemic", zh="传染病", en="Epidemic", params=EpidemicParams, runner=run,
    classes=CLASSES, peak_variable="attack_rate", order=3,
    legend=hz.Legend("I", "persons", floor=1.0, top="data"),
    figures=(hz.Figure("people_infected", "{:,.0f}", "累计感染", "People infected"),),
    forms=(hz.Form("epidemic", "传染病", "Epidemic", (
        hz.param("r0", "基本再生数 R0", "Basic reproduction number R0", 2.5, 0.1, 20, 0.1),
        hz.param("latent_days", "潜伏期 (天)", "Latent period (days)", 3, 0.5, 30, 0.5),
        hz.param("infectious_days", "传染期 (天)", "Infectious period (days)", 5, 0.5, 60, 0.5),
        hz.param("mobility", "人口流动系数", "Mobility", 0.1, 0, 1, 0.05),
        hz.param("seed_infections", "初始感染人数", "Seed infections", 20, 1, 1e5),
        *hz.timing(120, 1, "d", "d"))),))
