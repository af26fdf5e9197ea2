"""Governance grids (网格): contiguous groups of cells inside one street/town.

A grid is what one grid manager walks: a few thousand residents, connected, never straddling a
street/town boundary. `partition_grids` grows grids over the neighbour table (a breadth-first loop: fine for a district);
`partition_grids_ordered` cuts them in one vectorised pass for a whole city of millions of cells;
`grids_registry` turns the labels into the `grids` registry.
"""

from __future__ import annotations

from collections import deque

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from twin import cells as h3cells

__all__ = ["partition_grids", "partition_grids_ordered", "grids_registry"]


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


def partition_grids_ordered(neighbors: np.ndarray, unit: np.ndarray, population: np.ndarray,
                            target: float = 2000.0, max_cells: int = 400) -> np.ndarray:
    """Grids of about `target` residents (or `max_cells` cells in empty country), vectorised.

    Within each unit, cells are taken in the order of their position (sorted H3 ids, which keep
    the descendants of one parent together) and cut every time the running cost
    `residents / target + cells / max_cells` passes a whole number. A piece that came out in
    several parts is split into its connected parts, and a part costing less than a quarter is
    joined to the neighbouring grid of its unit it shares most edges with. Grids never cross
    units and are contiguous; same arguments and result as `partition_grids`.
    """
    unit = np.asarray(unit)
    population = np.asarray(population, dtype=float)
    taken = np.flatnonzero(unit >= 0)
    label = np.full(len(unit), -1, dtype=np.int64)
    if taken.size == 0:
        return label.astype(np.int32)
    order = taken[np.argsort(unit[taken], kind="stable")]
    cost = population[order] / float(target) + 1.0 / max_cells
    cum = np.cumsum(cost)
    u = unit[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    before = np.repeat(cum[starts] - cost[starts], np.diff(np.r_[starts, len(u)]))
    piece = np.floor(cum - before - 1e-9).clip(0).astype(np.int64)
    label[order] = np.unique(u.astype(np.int64) * (int(piece.max()) + 1) + piece,
                             return_inverse=True)[1]
    edges = _same_unit_edges(neighbors, unit)
    label = _connected_parts(label, edges)
    for _ in range(3):
        label, joined = _join_small(label, edges, population, target, max_cells)
        if not joined:
            break
    return _renumber(label)


def _same_unit_edges(neighbors: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) position pairs of neighbouring cells in the same unit (each pair both ways)."""
    a = np.repeat(np.arange(len(unit)), neighbors.shape[1])
    b = np.asarray(neighbors).ravel().astype(np.int64)
    keep = b >= 0
    a, b = a[keep], b[keep]
    keep = (unit[a] >= 0) & (unit[a] == unit[b])
    return a[keep], b[keep]


def _connected_parts(label: np.ndarray, edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each label split into its connected parts (a new label per part); -1 stays -1."""
    a, b = edges
    same = label[a] == label[b]
    n = len(label)
    graph = sparse.csr_matrix((np.ones(int(same.sum()), dtype=np.int8), (a[same], b[same])),
                              shape=(n, n))
    parts = connected_components(graph, directed=False)[1].astype(np.int64)
    return np.where(label >= 0, parts, -1)


def _join_small(label: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
                population: np.ndarray, target: float, max_cells: int) -> tuple[np.ndarray, int]:
    """Join each grid costing under a quarter to the bigger neighbouring grid (same unit) it
    shares most edges with; (labels, how many were joined)."""
    taken = label >= 0
    size = int(label.max()) + 1
    cost = (np.bincount(label[taken], weights=population[taken], minlength=size) / target
            + np.bincount(label[taken], minlength=size) / max_cells)
    small = cost < 0.25
    a, b = edges
    la, lb = label[a], label[b]
    pick = small[la] & ~small[lb] & (la != lb)
    if not pick.any():
        return label, 0
    pairs = pd.DataFrame({"a": la[pick], "b": lb[pick]}).value_counts().reset_index()
    best = pairs.sort_values(["a", "count", "b"], ascending=[True, False, True]).drop_duplicates("a")
    into = np.arange(size)
    into[best["a"].to_numpy()] = best["b"].to_numpy()
    return np.where(taken, into[np.where(taken, label, 0)], -1), len(best)


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
