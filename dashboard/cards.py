"""Figures the pages show, as plain data: pure functions of the twin, unit-tested."""

from __future__ import annotations

import numpy as np


def kpis(twin) -> dict[str, float]:
    """Headline figures of the twin for the KPI tiles."""
    return {"kpi_population": float(twin.ds["population"].sum()), "kpi_cells": len(twin),
            "kpi_grids": len(twin.grids), "kpi_sensors": len(twin.sensors),
            "kpi_cameras": len(twin.cameras), "kpi_facilities": len(twin.facilities)}


def unit_options(twin, lang: str) -> list[dict]:
    """Dropdown options for the streets/towns, labelled in the UI language."""
    column = "name" if lang == "zh" or "name_en" not in twin.units else "name_en"
    return [{"label": str(row[column]), "value": int(row["unit"])}
            for _, row in twin.units.sort_values("unit").iterrows()]


def grid_options(twin, unit: int | None) -> list[dict]:
    """Dropdown options for the grids of one street/town (all grids when unit is None)."""
    grids = twin.grids if unit is None else twin.grids[twin.grids["unit"] == unit]
    return [{"label": f"{row['id']} · {int(row['population']):,}", "value": int(row["grid"])}
            for _, row in grids.iterrows()]


def grid_card(twin, grid: int) -> dict:
    """What a grid manager sees of a grid: residents, area, manager and what is in it."""
    cells = np.flatnonzero(twin.ds["grid"].values == grid)
    if len(cells) == 0:
        raise KeyError(f"no grid {grid} in this twin")
    row = twin.grids[twin.grids["grid"] == grid].iloc[0]
    inside = set(twin.cell_ids[cells].tolist())

    def members(table, label: str) -> list[str]:
        if "cell" not in table:
            return []
        hits = table[table["cell"].isin(inside)]
        return [str(r.get(label, r["id"])) for _, r in hits.iterrows()]

    return {"grid": int(grid), "id": str(row["id"]), "manager": str(row.get("manager", "")),
            "card_residents": float(twin.ds["population"].values[cells].sum()),
            "card_cells": len(cells), "card_area": float(twin.area_m2[cells].sum() / 1e6),
            "card_facilities": members(twin.facilities, "name"),
            "card_sensors": members(twin.sensors, "id"),
            "card_cameras": members(twin.cameras, "id"), "cells": twin.cell_ids[cells]}
