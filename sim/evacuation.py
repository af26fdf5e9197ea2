"""Evacuation: people walk or drive over the cell graph to shelters with capacities; roads jam.

Traffic: the cell transmission model (Daganzo 1994, 1995; `sim.traffic`) on the twin's cells,
each cell a stretch of road with a capacity, a free-flow speed and a storage at jam density, so
queues spill back upstream and their tails move at the shock speed of the fundamental diagram.
Where roads never jam (no storage) it is the point-queue model it replaced: a lone corridor
empties in N / Q + length / speed, the classical hand calculation of egress time (SFPE
Handbook, Nelson & Mowrer "Emergency movement").
Routing: shelters are assigned nearest-first with capacities: the nearest reachable shelter
takes people in order of distance until full, then the rest are routed to the next free one
(repeated Dijkstra from the free shelters); everyone follows their shortest path.
Walking: free speed 1.2 m/s and specific flow 1.3 persons/m/s (Fruin 1971; SFPE Handbook), jam
at 3.8 persons/m^2 (SFPE Handbook, Nelson & Mowrer: speed S = k (1 - 0.266 D) falls to zero at
D = 1 / 0.266 = 3.76 persons/m^2). Driving: road capacity (vehicles/h) x occupancy, 30 km/h,
lanes = capacity / 1800 veh/h and 150 veh/km per lane at jam (planning defaults, not from a
cited table: set them for your roads).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.sparse.csgraph import dijkstra

from sim import traffic
from sim.mesh import Mesh

WALK_SPEED_M_S = 1.2
WALK_SPECIFIC_FLOW_P_M_S = 1.3
WALK_JAM_P_M2 = 1.0 / 0.266
DRIVE_SPEED_M_S = 30 / 3.6
DRIVE_LANE_VEH_H = 1800.0
DRIVE_JAM_VEH_KM_LANE = 150.0


def cell_lengths(mesh: Mesh) -> np.ndarray:
    """A cell's length along a route: the mean distance to its neighbours' centres."""
    ok = mesh.neighbors >= 0
    count = ok.sum(1)
    mean = np.where(ok, mesh.distance_m, 0.0).sum(1) / np.maximum(count, 1)
    return np.where(count > 0, mean, np.sqrt(mesh.area_m2))


def roads_from_twin(twin, mode: str, length_m: np.ndarray, *, walk_width_m: float = 20.0,
                    persons_per_vehicle: float = 2.0,
                    local_road_veh_h: float = 600.0) -> traffic.Roads:
    """Capacity, speed and jam storage of every cell for walking or driving (persons)."""
    n = len(twin)
    if mode == "walk":
        flow = np.full(n, WALK_SPECIFIC_FLOW_P_M_S * walk_width_m)
        jam_per_m = WALK_JAM_P_M2 * walk_width_m
        w = traffic.wave_speed(WALK_SPECIFIC_FLOW_P_M_S * walk_width_m, WALK_SPEED_M_S, jam_per_m)
        return traffic.Roads(flow, WALK_SPEED_M_S, jam_per_m * length_m, w)
    if mode == "drive":
        veh_h = np.maximum(twin.ds["road_capacity"].values.astype(float), local_road_veh_h)
        lanes = veh_h / DRIVE_LANE_VEH_H
        jam_per_m = DRIVE_JAM_VEH_KM_LANE / 1000.0 * lanes * persons_per_vehicle
        flow = veh_h * persons_per_vehicle / 3600.0
        w = traffic.wave_speed(DRIVE_LANE_VEH_H / 3600.0, DRIVE_SPEED_M_S,
                               DRIVE_JAM_VEH_KM_LANE / 1000.0)
        return traffic.Roads(flow, DRIVE_SPEED_M_S, jam_per_m * length_m, w)
    raise ValueError(f"mode must be 'walk' or 'drive', got {mode!r}")


def _graph(mesh: Mesh) -> sp.csr_matrix:
    a, b, _, d = mesh.faces
    n = len(mesh)
    return sp.csr_matrix((d, (a, b)), shape=(n, n))


def assign(mesh: Mesh, people: np.ndarray, shelter_cells: np.ndarray,
           capacity: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Nearest-first assignment with capacities: [(next hop (N,), people (N,))], shelter loads."""
    graph = _graph(mesh)
    n = len(mesh)
    cap = np.asarray(capacity, dtype=float).copy()
    left = np.asarray(people, dtype=float).copy()
    load = np.zeros(len(shelter_cells))
    groups = []
    for _ in range(len(shelter_cells) + 1):
        active = np.flatnonzero(cap > 1e-9)
        if left.sum() <= 1e-9 or len(active) == 0:
            break
        cells = shelter_cells[active]
        dist, pred, src = dijkstra(graph, directed=False, indices=cells, min_only=True,
                                   return_predecessors=True)
        reach = np.flatnonzero(np.isfinite(dist) & (left > 0))
        if len(reach) == 0:
            break
        which = np.searchsorted(cells[np.argsort(cells)], src[reach])
        shelter = active[np.argsort(cells)][which]  # shelter index serving each reached cell
        order = np.lexsort((dist[reach], shelter))
        cells_o, shelter_o = reach[order], shelter[order]
        p = left[cells_o]
        cum = np.cumsum(p)
        start = np.r_[0, np.flatnonzero(np.diff(shelter_o)) + 1]
        before = np.repeat(cum[start] - p[start], np.diff(np.r_[start, len(p)]))
        already = cum - p - before  # people ahead of this cell for the same shelter
        take = np.clip(cap[shelter_o] - already, 0.0, p)
        taken = np.zeros(n)
        taken[cells_o] = take
        np.add.at(load, shelter_o, take)
        np.add.at(cap, shelter_o, -take)
        left -= taken
        hop = np.where(pred >= 0, pred, -1).astype(np.int64)
        hop[cells] = -2  # a shelter: arrived
        groups.append((hop, taken))
        if take.sum() <= 1e-9:
            break
    return groups, load


def simulate(mesh: Mesh, people, shelter_cells, shelter_capacity, *, flow_p_s, speed_m_s: float,
             duration_s: float, output_every_s: float | None = None, storage_p=None,
             wave_speed_m_s: float | None = None) -> xr.Dataset:
    """Move people to shelters; evacuated share over time, clearance time, loads, bottlenecks.

    `people` (N,) in the cells to evacuate; `shelter_cells` positions with `shelter_capacity`
    persons; `flow_p_s` (N,) or scalar capacity of each cell (persons/s); `storage_p` (N,) or
    scalar persons a cell holds at jam density, with the backward `wave_speed_m_s` (both None:
    roads never jam).
    """
    n = len(mesh)
    people = np.broadcast_to(np.asarray(people, dtype=float), (n,)).copy()
    shelters = np.atleast_1d(np.asarray(shelter_cells, dtype=np.int64))
    capacity = np.atleast_1d(np.asarray(shelter_capacity, dtype=float))
    if len(shelters) != len(capacity):
        raise ValueError(f"shelter_capacity needs one value per shelter cell ({len(shelters)}), "
                         f"got {len(capacity)}")
    if len(shelters) and (shelters.min() < 0 or shelters.max() >= n):
        raise ValueError("shelter_cells must be positions of cells in the mesh (0..N-1); "
                         "shelters outside the twin locate to -1: drop them first")
    storage = None if storage_p is None else np.broadcast_to(np.asarray(storage_p, float), (n,))
    roads = traffic.Roads(np.broadcast_to(np.asarray(flow_p_s, dtype=float), (n,)),
                          float(speed_m_s), storage, wave_speed_m_s)
    uniq, inv = np.unique(shelters, return_inverse=True)
    cap_cell = np.bincount(inv, weights=capacity, minlength=len(uniq))
    groups, load_cell = assign(mesh, people, uniq, cap_cell)
    length = cell_lengths(mesh)
    dt = traffic.stable_dt(length, roads)
    out_every = output_every_s or dt
    n_out = int(np.floor(duration_s / out_every + 1e-9)) + 1
    out_times = np.arange(n_out) * out_every
    total = float(people.sum())
    hops = [g[0] for g in groups]
    occ = [g[1].copy() for g in groups]
    arrived = 0.0
    for k, hop in enumerate(hops):  # people already at their shelter
        here = hop == traffic.ARRIVED
        arrived += occ[k][here].sum()
        occ[k][here] = 0.0
    assigned = sum(g[1].sum() for g in groups)
    unassigned = people - sum((g[1] for g in groups), np.zeros(n))
    remaining = np.empty((n_out, n), dtype=np.float32)
    evacuated = np.empty(n_out)
    max_queue, delay = np.zeros(n), np.zeros(n)
    t, k_out, clearance = 0.0, 0, np.nan
    while k_out < n_out:
        while k_out < n_out and out_times[k_out] <= t + 1e-9:
            remaining[k_out] = sum(occ, unassigned.copy())
            evacuated[k_out] = arrived
            k_out += 1
        if k_out >= n_out:
            break
        if np.isnan(clearance) and arrived >= assigned - 1e-6 * max(assigned, 1.0):
            clearance = t
        moved = traffic.step(occ, hops, length, roads, dt)
        arrived += moved.arrived
        np.maximum(max_queue, moved.held, out=max_queue)
        delay += np.bincount(moved.limiter, weights=moved.held * dt, minlength=n)
        t += dt
    loads = load_cell[inv] * np.divide(capacity, cap_cell[inv], out=np.zeros_like(capacity),
                                       where=cap_cell[inv] > 0)
    share = evacuated / total if total > 0 else np.ones(n_out)
    top = np.argsort(-delay)[:10]
    top = top[delay[top] > 0]
    return xr.Dataset(
        {"remaining": (("time", "cell"), remaining, {"units": "persons",
                                                     "long_name": "people not yet sheltered"}),
         "evacuated": ("time", evacuated, {"units": "persons"}),
         "evacuated_share": ("time", share, {"units": "1"}),
         "shelter_load": ("shelter", loads, {"units": "persons"}),
         "shelter_capacity": ("shelter", capacity, {"units": "persons"}),
         "max_queue": ("cell", max_queue, {"units": "persons", "long_name":
                                           "largest number held back in a cell in one step"}),
         "delay_caused": ("cell", delay, {"units": "person s", "long_name":
                                          "waiting the cell's capacity imposed on others"})},
        coords={"time": ("time", out_times, {"units": "s"}),
                "shelter_cell": ("shelter", shelters)},
        attrs={"model": "cell transmission model (Daganzo 1994, 1995)"
                        + ("" if storage is None else " with spill-back"), "dt_s": dt,
               "clearance_s": float(clearance), "people_total": total,
               "people_without_shelter": float(unassigned.sum()),
               "bottleneck_cells": top.astype(np.int64).tolist()})
