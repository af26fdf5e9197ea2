"""Impact of a scenario from a per-cell severity class: people, facilities, units, roads.

Everything is an aggregation by `np.bincount` over cell positions, so it costs the same on a
40k-cell twin as on a small one. Severity 0 means unaffected; 1..L follow the hazard's labels.
"""

from __future__ import annotations

import numpy as np

FACILITY_KINDS = ("hospital", "school", "shelter", "hazchem_site", "fire_station")


def summarise(twin, severity: np.ndarray, labels: list[str], roads_cut: np.ndarray) -> dict:
    """People, cells and facilities per severity class; per-unit table; roads cut."""
    sev = np.asarray(severity, dtype=np.int64)
    levels = len(labels)
    pop = twin.ds["population"].values.astype(float)
    people = np.bincount(sev, weights=pop, minlength=levels + 1)
    cells = np.bincount(sev, minlength=levels + 1)
    out = {
        "severity_labels": list(labels),
        "people_by_severity": {lab: round(float(people[k + 1]), 1) for k, lab in enumerate(labels)},
        "cells_by_severity": {lab: int(cells[k + 1]) for k, lab in enumerate(labels)},
        "people_affected": round(float(people[1:].sum()), 1),
        "facilities": _facilities(twin, sev, labels),
        "units": _units(twin, sev, pop, labels),
    }
    road = twin.ds["road_capacity"].values.astype(float) if "road_capacity" in twin.ds else \
        np.zeros(len(sev))
    cut = np.asarray(roads_cut, bool) & (road > 0)
    out["roads_cut"] = {"cells": int(cut.sum()), "capacity_veh_h": round(float(road[cut].sum())),
                        "cell_ids": [f"{int(c):x}" for c in twin.cell_ids[cut][:200]]}
    return out


def _facilities(twin, sev: np.ndarray, labels: list[str]) -> list[dict]:
    fac = twin.facilities
    if len(fac) == 0 or "kind" not in fac:
        return []
    fac = fac[fac["kind"].isin(FACILITY_KINDS)]
    pos = twin.locate(fac.geometry.y.values, fac.geometry.x.values)
    level = np.where(pos >= 0, sev[np.maximum(pos, 0)], 0)
    hit = np.flatnonzero(level > 0)
    rows = []
    for i in hit[np.argsort(-level[hit], kind="stable")]:  # at most the facility count
        row = fac.iloc[i]
        rows.append({"id": str(row["id"]), "name": str(row.get("name", "")),
                     "kind": str(row["kind"]), "severity": labels[level[i] - 1],
                     "capacity": float(row.get("capacity", 0) or 0)})
    return rows


def _units(twin, sev: np.ndarray, pop: np.ndarray, labels: list[str]) -> list[dict]:
    if "unit" not in twin.ds or len(twin.units) == 0:
        return []
    unit = twin.ds["unit"].values.astype(np.int64)
    inside = unit >= 0
    n_units = int(max(unit.max(initial=-1), twin.units["unit"].max()) + 1)
    levels = len(labels) + 1
    table = np.bincount(unit[inside] * levels + sev[inside], weights=pop[inside],
                        minlength=n_units * levels).reshape(n_units, levels)
    names = twin.units.set_index("unit")
    rows = []
    for u in np.flatnonzero(table[:, 1:].sum(1) > 0):
        meta = names.loc[u] if u in names.index else {}
        row = {"unit": int(u), "id": str(meta.get("id", "")), "name": str(meta.get("name", "")),
               "name_en": str(meta.get("name_en", ""))}
        row.update({lab: round(float(table[u, k + 1]), 1) for k, lab in enumerate(labels)})
        rows.append(row)
    return sorted(rows, key=lambda r: -sum(r[lab] for lab in labels))


def compare(a: dict, b: dict) -> dict:
    """B minus A for people and cells per severity class and for roads cut."""
    labels = a.get("severity_labels", [])
    if labels != b.get("severity_labels", []):
        raise ValueError("results have different severity classes: compare results of the same "
                         f"hazard ({a.get('hazard')} vs {b.get('hazard')})")
    return {
        "a": a.get("name"), "b": b.get("name"), "hazard": a.get("hazard"),
        "people_by_severity": {lab: {"a": a["people_by_severity"][lab],
                                     "b": b["people_by_severity"][lab],
                                     "b_minus_a": round(b["people_by_severity"][lab]
                                                        - a["people_by_severity"][lab], 1)}
                               for lab in labels},
        "people_affected": {"a": a["people_affected"], "b": b["people_affected"],
                            "b_minus_a": round(b["people_affected"] - a["people_affected"], 1)},
        "roads_cut_cells": {"a": a["roads_cut"]["cells"], "b": b["roads_cut"]["cells"]},
        "facilities_only_in_b": sorted({f["id"] for f in b["facilities"]}
                                       - {f["id"] for f in a["facilities"]}),
        "facilities_only_in_a": sorted({f["id"] for f in a["facilities"]}
                                       - {f["id"] for f in b["facilities"]}),
    }
