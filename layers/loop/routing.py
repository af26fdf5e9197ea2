"""Routing (部门报到): who answers for an alert, from the twin's registries.

Category -> department(s) through each department's `categories` (after the category aliases of
`layers.loop.sla`); nobody -> the departments answering for `other`. Location -> cell position ->
governance grid (+ its manager) -> street/town (unit). Lookups are built once as arrays/dicts.
"""

from __future__ import annotations

import numpy as np

from layers.loop import sla as sla_mod
from layers.loop.records import Place


class Router:
    """Category and location routing on one twin."""

    def __init__(self, twin, categories: sla_mod.Categories | None = None) -> None:
        self.twin = twin
        self.timezone = twin.timezone
        self.categories = categories or sla_mod.default()
        self.by_category: dict[str, list[str]] = {}
        self.department_names: dict[str, tuple[str, str]] = {}
        deps = twin.departments
        for row in deps.itertuples(index=False):
            cats = getattr(row, "categories", None)
            self.department_names[row.id] = (getattr(row, "name", row.id),
                                             getattr(row, "name_en", row.id))
            for cat in list(cats) if cats is not None else []:
                self.by_category.setdefault(str(cat), []).append(str(row.id))
        self.grid_of = twin.ds["grid"].values.astype(np.int64)
        self.unit_of = twin.ds["unit"].values.astype(np.int64)
        grids = twin.grids
        self.grid_info = {int(g): (str(i), str(m) if m is not None else None) for g, i, m in zip(
            grids.get("grid", []), grids.get("id", []),
            grids["manager"] if "manager" in grids else [None] * len(grids), strict=False)}
        units = twin.units
        self.unit_names = {int(u): str(n) for u, n in zip(units.get("unit", []),
                                                          units.get("name", []), strict=False)}

    def departments(self, category: str) -> list[str]:
        """Departments answering for a category (those for `other` when nobody does)."""
        name = self.categories.routing_name(category)
        found = self.by_category.get(name) or self.by_category.get(category)
        return list(found or self.by_category.get("other", []))

    def department_name(self, dep: str, lang: str = "zh") -> str:
        names = self.department_names.get(dep)
        return dep if names is None else names[0 if lang == "zh" else 1]

    def place(self, lat: float, lng: float) -> Place:
        """The cell, grid, manager and unit of a point (cell None when outside the twin)."""
        return self.places([lat], [lng])[0]

    def places(self, lat, lng) -> list[Place]:
        """The places of many points, located in one vectorised pass."""
        lat, lng = np.asarray(lat, dtype=float), np.asarray(lng, dtype=float)
        pos = self.twin.locate(lat, lng) if len(lat) else np.zeros(0, np.int64)
        return [self.place_of(int(p), float(a), float(b))
                for p, a, b in zip(pos.tolist(), lat, lng, strict=True)]

    def place_of(self, pos: int, lat: float | None = None, lng: float | None = None) -> Place:
        """The place of a cell position (its centre when lat/lng are not given)."""
        if pos < 0:
            return Place(None, lat=float(lat or 0), lng=float(lng or 0))
        if lat is None or lng is None:
            clat, clng = self.twin.centers
            lat, lng = float(clat[pos]), float(clng[pos])
        grid, unit = int(self.grid_of[pos]), int(self.unit_of[pos])
        gid, manager = self.grid_info.get(grid, (None, None))
        return Place(int(self.twin.cell_ids[pos]), grid, gid, manager, unit,
                     self.unit_names.get(unit), float(lat), float(lng))
