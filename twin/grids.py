"""Governance grids (网格): contiguous groups of cells inside one street/town.

A grid is what one grid manager walks: a few thousand residents, connected, never straddling a
street/town boundary. `partition_grids` grows grids over the neighbour table; `grids_registry`
turns the labels into the `grids` registry. Both are used by `twin.build` and the demo city.
"""

from __future__ import annotations

from collections import deque

import geopandas as gpd
import numpy as np
import shapely

from twin import cells as h3cells

__all__ = ["partition_grids", "grids_registry"]


def partition_grids(neighbors: np.ndarray, unit: np.ndarray, population: np.ndarray,
                    target: float = 2000.0, max_cells: int = 400) -> np.ndarray:
    """Split each unit's cells into contiguous grids of about `target` residents.

    neighbors: (N, 6) int positions of each cell's neighbours, -1 where none (`Twin.neighbors`).
    unit: (N,) unit index per cell, -1 outside every unit (such cells get no grid).
    population: (N,) residents per cell.
    target: residents at which a grid stops growing. Grids end with `target / 2` to
        `1.5 * target` residents (plus at most one cell's), or at `max_cells` cells in empty
        country; only a grid with no neighbouring grid in its unit can hold fewer.
    max_cells: the most cells a grid grows to when residents are few.

    Returns an int32 grid id per cell (0..G-1, numbered in cell order), -1 where unit == -1.
    Grids grow breadth-first from the lowest-positioned free cell of a unit, so the result is
    deterministic. A grid that ran out of room (hemmed in by other grids or its unit's edge)
    below `target / 2` residents is merged into its least-populated neighbouring grid of the
    same unit, if it has one. Grids are always contiguous and never cross units.
    """
    neighbors = np.asarray(neighbors)
    unit = np.asarray(unit)
    population = np.asarray(population, dtype=float)
    label = np.full(len(unit), -1, dtype=np.int64)
    members: list[list[int]] = []
    short: list[bool] = []
    for seed in np.flatnonzero(unit >= 0):
        if label[seed] != -1:
            continue
        cells, total, full = _grow(int(seed), len(members), neighbors, unit, population, label,
                                   target, max_cells)
        members.append(cells)
        short.append(not full and total < target / 2.0)
    _merge_leftovers(members, short, neighbors, unit, population, label)
    return _renumber(label)


def _grow(seed: int, gid: int, neighbors: np.ndarray, unit: np.ndarray, population: np.ndarray,
          label: np.ndarray, target: float, max_cells: int) -> tuple[list[int], float, bool]:
    """Breadth-first region growing from `seed` within its unit; labels the cells it takes."""
    own = unit[seed]
    queue = deque([seed])
    label[seed] = gid
    cells: list[int] = []
    total = 0.0
    full = False
    while queue:
        cell = queue.popleft()
        cells.append(cell)
        total += population[cell]
        if total >= target or len(cells) >= max_cells:
            full = True
            break
        for nb in neighbors[cell]:
            if nb >= 0 and label[nb] == -1 and unit[nb] == own:
                label[nb] = gid
                queue.append(int(nb))
    for cell in queue:  # claimed but not taken: free again
        label[cell] = -1
    return cells, total, full


def _merge_leftovers(members: list[list[int]], short: list[bool], neighbors: np.ndarray,
                     unit: np.ndarray, population: np.ndarray, label: np.ndarray) -> None:
    """Fold each short grid into its least-populated neighbouring grid of the same unit."""
    totals = [float(population[cells].sum()) for cells in members]
    for gid, is_short in enumerate(short):
        cells = members[gid]
        if not is_short or not cells:
            continue
        around = neighbors[cells].ravel()
        around = around[around >= 0]
        around = around[unit[around] == unit[cells[0]]]
        others = np.unique(label[around])
        others = others[(others >= 0) & (others != gid)]
        if others.size == 0:
            continue
        into = int(min(others, key=lambda g: (totals[g], g)))
        label[cells] = into
        members[into].extend(cells)
        totals[into] += totals[gid]
        members[gid] = []


def _renumber(label: np.ndarray) -> np.ndarray:
    """Grid ids 0..G-1 in order of each grid's first cell; -1 stays -1."""
    out = np.full(len(label), -1, dtype=np.int32)
    taken = label >= 0
    if not taken.any():
        return out
    ids, first, inverse = np.unique(label[taken], return_index=True, return_inverse=True)
    rank = np.empty(len(ids), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(ids), dtype=np.int32)
    out[taken] = rank[inverse]
    return out


def grids_registry(cell_ids: np.ndarray, grid: np.ndarray, unit: np.ndarray,
                   population: np.ndarray) -> gpd.GeoDataFrame:
    """The `grids` registry: `grid`, `id` ("G0001"...), `unit`, `population`, `cells`, outline.

    The outline is the union of the grid's cell hexagons.
    """
    cell_ids = np.asarray(cell_ids, dtype=np.uint64)
    grid = np.asarray(grid)
    taken = np.flatnonzero(grid >= 0)
    ids = np.unique(grid[taken]).astype(int)
    order = taken[np.argsort(grid[taken], kind="stable")]
    bounds = np.searchsorted(grid[order], ids, side="left")
    groups = np.split(order, bounds[1:]) if len(ids) else []
    geometry = [_outline(cell_ids[g]) for g in groups]
    return gpd.GeoDataFrame(
        {"grid": ids.astype(np.int32), "id": [f"G{g + 1:04d}" for g in ids],
         "unit": np.array([int(unit[g[0]]) for g in groups], dtype=np.int32),
         "population": np.bincount(grid[taken], weights=np.asarray(population, float)[taken],
                                   minlength=len(ids))[ids] if len(ids) else np.empty(0),
         "cells": np.array([len(g) for g in groups], dtype=np.int32)},
        geometry=gpd.GeoSeries(geometry, crs=4326), crs=4326)


def _outline(cells: np.ndarray) -> shapely.Geometry:
    """One (multi)polygon covering the cells: their hexagons tile, so a coverage union is exact."""
    return shapely.coverage_union_all(h3cells.cell_polygons(cells))
