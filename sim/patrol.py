"""Inspection-vehicle coverage and route planning (城市体检智能巡检), pure numpy/scipy on a twin.

Coverage: a street/town counts as inspected when a vehicle covered at least one of its road cells
(`road_capacity` > 0); its share is the part of its road cells covered (`coverage`).

Route: the road cells form a graph through the twin's neighbour table. An edge costs the time to
drive from one cell centre to the next, half of the great-circle distance at each cell's speed
(main corridors, `road_capacity` >= `main_vehicles_h`, at `main_kmh`; other road cells at
`local_kmh`: the speeds of a vehicle inspecting as it drives, the demo's assumptions, not
measurements). Each street/town to cover is reached at its waypoint: its main-road cell nearest
its centroid, else its road cell nearest it. The route is the greedy nearest-neighbour tour
(Rosenkrantz, Stearns & Lewis, SIAM J. Comput. 6(3), 563-581, 1977): from the start, the fastest
path (Dijkstra, `scipy.sparse.csgraph`) to the nearest waypoint not reached yet, and so on; a
street/town the path crosses on the way counts as covered and is not visited again. Nearest
neighbour is not optimal: on metric instances its tour is at most (ceil(log2 n) + 1) / 2 times
the shortest (ibid.); for the twenty-odd streets and towns of a district it is a fair plan in
milliseconds. `plan_route` also returns the length and the driving time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.mesh import haversine_m

MAIN_VEHICLES_H = 2000.0  # road_capacity (vehicles/h) from which a cell is a main corridor


@dataclass(frozen=True)
class Speeds:
    """Inspection driving speeds (km/h): on main corridors and on other road cells."""

    main_kmh: float = 30.0
    local_kmh: float = 15.0

    def __post_init__(self) -> None:
        if not (self.main_kmh > 0 and self.local_kmh > 0):
            raise ValueError(f"speeds must be positive km/h, got main {self.main_kmh}, local "
                             f"{self.local_kmh}")


class RoadNetwork:
    """The road cells of a twin as a graph weighted by driving time."""

    def __init__(self, twin, speeds: Speeds = Speeds(),
                 main_vehicles_h: float = MAIN_VEHICLES_H) -> None:
        road = twin.ds["road_capacity"].values.astype(float)
        self.twin, self.speeds = twin, speeds
        self.road = road > 0
        self.main = road >= main_vehicles_h
        self.unit = twin.ds["unit"].values.astype(np.int64)
        self.lat, self.lng = twin.centers
        nb = twin.neighbors
        i = np.repeat(np.arange(len(nb)), nb.shape[1])
        j = nb.ravel().astype(np.int64)
        keep = (j >= 0) & self.road[i] & self.road[np.maximum(j, 0)]
        self.i, self.j = i[keep], j[keep]
        self.dist_m = haversine_m(self.lat[self.i], self.lng[self.i], self.lat[self.j],
                                  self.lng[self.j])
        speed = np.where(self.main, speeds.main_kmh, speeds.local_kmh) / 3.6
        seconds = 0.5 * self.dist_m / speed[self.i] + 0.5 * self.dist_m / speed[self.j]
        n = len(road)
        self.graph = csr_matrix((seconds, (self.i, self.j)), shape=(n, n))
        self._metres = csr_matrix((self.dist_m, (self.i, self.j)), shape=(n, n))

    @cached_property
    def waypoints(self) -> dict[int, int]:
        """Per street/town (unit number): the road cell a route visits to cover it."""
        out = {}
        for u in np.unique(self.unit[self.road]).tolist():
            if u < 0:
                continue
            cells = np.flatnonzero(self.road & (self.unit == u))
            main = cells[self.main[cells]]
            pool = main if len(main) else cells
            clat, clng = self.lat[cells].mean(), self.lng[cells].mean()
            out[int(u)] = int(pool[np.argmin(haversine_m(clat, clng, self.lat[pool],
                                                           self.lng[pool]))])
        return out

    def nearest_road(self, lat: float, lng: float) -> int:
        """The road cell nearest a point (where a route starts)."""
        cells = np.flatnonzero(self.road)
        if not len(cells):
            raise ValueError("the twin has no road cells (road_capacity > 0): nothing to drive")
        return int(cells[np.argmin(haversine_m(lat, lng, self.lat[cells], self.lng[cells]))])

    def start(self, lat: float | None = None, lng: float | None = None) -> int:
        """Where a route starts: the road cell nearest (lat, lng), by default nearest the twin's
        centre (the mean of its cell centres)."""
        return self.nearest_road(float(np.mean(self.lat)) if lat is None else float(lat),
                                 float(np.mean(self.lng)) if lng is None else float(lng))

    def step_metres(self, a: int, b: int) -> float:
        return float(self._metres[a, b])


@dataclass
class Route:
    """A planned route: cell positions in driving order, the streets/towns in the order covered,
    those it cannot reach, and its length and driving time."""

    cells: np.ndarray
    units: list[int] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)
    length_m: float = 0.0
    time_s: float = 0.0


def plan_route(network: RoadNetwork, start: int, units: list[int],
               back_to_start: bool = False) -> Route:
    """The greedy nearest-neighbour route from road cell `start` covering the given streets/towns
    (unit numbers); `back_to_start` closes the loop."""
    if not network.road[start]:
        raise ValueError(f"the route must start on a road cell; position {start} is not one "
                         f"(use RoadNetwork.nearest_road)")
    waypoints = network.waypoints
    unknown = sorted(set(units) - set(waypoints))
    todo = {u for u in units if u in waypoints}
    route, order, here, time_s = [start], [], start, 0.0
    home = int(network.unit[start])
    if home in todo:  # the street/town the vehicle starts in is covered at once
        todo.discard(home)
        order.append(home)
    unreachable: list[int] = []
    while todo:
        seconds, previous = dijkstra(network.graph, indices=here, return_predecessors=True)
        targets = sorted(todo, key=lambda u: (seconds[waypoints[u]], u))
        goal = targets[0]
        if not np.isfinite(seconds[waypoints[goal]]):
            unreachable += sorted(todo)
            break
        path = _path(previous, here, waypoints[goal])
        time_s += float(seconds[waypoints[goal]])
        for cell in path[1:]:
            u = int(network.unit[cell])
            if u in todo:
                todo.discard(u)
                order.append(u)
        route += path[1:]
        here = waypoints[goal]
    if back_to_start and here != start:
        seconds, previous = dijkstra(network.graph, indices=here, return_predecessors=True)
        if np.isfinite(seconds[start]):
            route += _path(previous, here, start)[1:]
            time_s += float(seconds[start])
    cells = np.asarray(route, dtype=np.int64)
    length = sum(network.step_metres(a, b) for a, b in zip(cells[:-1], cells[1:], strict=True))
    return Route(cells, order, sorted(unreachable + unknown), float(length), time_s)


def _path(previous: np.ndarray, source: int, target: int) -> list[int]:
    """The cells of the shortest path from `source` to `target` (both included)."""
    out = [target]
    while out[-1] != source:
        out.append(int(previous[out[-1]]))
    return out[::-1]


def uninspected(table: pd.DataFrame) -> list[int]:
    """The streets/towns (unit numbers) of a `coverage` table no vehicle inspected: what a
    route is planned over."""
    return [int(u) for u in table.loc[~table["inspected"].astype(bool), "unit"]]


def coverage(twin, covered: np.ndarray) -> pd.DataFrame:
    """Per street/town: road cells, covered road cells, share covered, inspected (any covered).

    `covered`: twin positions the vehicles covered (e.g. this week's); unknown positions ignored.
    """
    road = twin.ds["road_capacity"].values > 0
    unit = twin.ds["unit"].values.astype(np.int64)
    hit = np.zeros(len(road), dtype=bool)
    pos = np.asarray(covered, dtype=np.int64)
    hit[pos[(pos >= 0) & (pos < len(hit))]] = True
    units = twin.units.sort_values("unit")
    rows = []
    for u, name in zip(units["unit"].astype(int), units["name"].astype(str), strict=True):
        mine = road & (unit == u)
        n, k = int(mine.sum()), int((mine & hit).sum())
        rows.append({"unit": u, "name": name, "road_cells": n, "covered_cells": k,
                     "share": k / n if n else np.nan, "inspected": k > 0})
    return pd.DataFrame(rows, columns=["unit", "name", "road_cells", "covered_cells", "share",
                                       "inspected"])
