"""The cell transmission model (Daganzo 1994, 1995) on the cells of a mesh.

Daganzo, C. F. (1994), "The cell transmission model: a dynamic representation of highway traffic
consistent with the hydrodynamic theory", Transportation Research B 28(4), 269-287; and (1995),
"The cell transmission model, part II: network traffic", Transportation Research B 29(2), 79-93.

Each cell i holds n_i travellers on a road of length L_i with a triangular fundamental diagram
q(k) = min(v k, Q_i, w (K_i - k)): free-flow speed v, capacity Q_i, jam density K_i (so a
storage N_i = K_i L_i) and backward wave speed w = Q_i / (K_i - Q_i / v). Per step dt
(v dt <= L_i and w dt <= L_i):

    sending   S_i = min(n_i v dt / L_i, Q_i dt)                       (1994, eq. 8 generalised)
    receiving R_j = min(Q_j dt, w dt / L_j (N_j - n_j))

A cell's travellers follow per-group next hops (diverges); its outflow obeys the FIFO diverge
rule (the whole cell waits for its most constrained exit) and a receiving cell's capacity is
shared among the cells feeding it in proportion to what they send (merges, 1995, section 4).
Queues therefore spill back cell by cell, and the queue tail moves at the shock speed of the
fundamental diagram. Without a storage (None) cells never jam: S_i reaches the next cell
whatever its content, the point-queue model this replaced.
Vectorised over cells; a loop runs only over the few routing groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARRIVED = -2  # next hop of a cell that is its group's destination


@dataclass
class Roads:
    """Capacity (persons/s), free speed (m/s), storage at jam (persons) per cell, wave speed."""

    flow_p_s: np.ndarray
    speed_m_s: float
    storage_p: np.ndarray | None = None
    wave_speed_m_s: float | None = None

    def __post_init__(self) -> None:
        if (np.asarray(self.flow_p_s) <= 0).any() or not self.speed_m_s > 0:
            raise ValueError("flow_p_s and speed_m_s must be positive")
        if (self.storage_p is None) != (self.wave_speed_m_s is None):
            raise ValueError("give storage_p and wave_speed_m_s together (roads that jam) or "
                             "neither (roads that never jam)")
        if self.wave_speed_m_s is not None and not self.wave_speed_m_s > 0:
            raise ValueError("wave_speed_m_s must be positive")


def wave_speed(capacity_per_m: float, speed_m_s: float, jam_density_per_m: float) -> float:
    """Backward wave speed w = Q / (K - Q / v) of a triangular fundamental diagram."""
    critical = capacity_per_m / speed_m_s
    if not jam_density_per_m > critical:
        raise ValueError(f"jam density ({jam_density_per_m:g}) must exceed the critical density "
                         f"Q / v = {critical:g} (same units): raise it or lower the capacity")
    return capacity_per_m / (jam_density_per_m - critical)


def stable_dt(length_m: np.ndarray, roads: Roads) -> float:
    """The largest step with v dt <= L and w dt <= L in every cell (the CTM's CFL condition)."""
    fastest = max(roads.speed_m_s, roads.wave_speed_m_s or 0.0)
    return float(np.min(length_m)) / fastest


@dataclass
class Step:
    """One step's result: flows per group, arrivals, and what each cell was held back by."""

    flows: list[np.ndarray]
    arrived: float
    held: np.ndarray  # travellers a cell could have sent but did not, this step
    limiter: np.ndarray  # the cell whose capacity held it back (itself or an exit)


def step(occ: list[np.ndarray], hops: list[np.ndarray], length_m: np.ndarray, roads: Roads,
         dt: float) -> Step:
    """Move travellers one step; `occ[g]` are group g's travellers per cell, `hops[g]` its hops.

    Hops are cell positions, ARRIVED where the cell is the group's destination (its travellers
    are counted arrived when they enter it), or -1 (not routed: they stay).
    """
    n = len(length_m)
    total = np.add.reduce(occ) if occ else np.zeros(n)
    demand = total * roads.speed_m_s * dt / length_m
    cap = roads.flow_p_s * dt
    send = np.minimum(demand, cap)
    own_held = demand - send
    if roads.storage_p is None:
        receive = np.full(n, np.inf)
    else:
        room = roads.wave_speed_m_s * dt / length_m * (roads.storage_p - total)
        receive = np.maximum(np.minimum(cap, room), 0.0)
    share = np.divide(send, total, out=np.zeros(n), where=total > 0)
    wanted = np.zeros(n)  # through demand arriving at each cell
    exits = []
    for g, hop in enumerate(hops):
        through = hop >= 0
        through[through] = hops[g][hop[through]] != ARRIVED
        d = occ[g] * share
        wanted += np.bincount(hop[through], weights=d[through], minlength=n)
        exits.append((hop, through, d))
    short = receive < wanted  # only there is the ratio below 1 (and never a division by ~0)
    factor = np.ones(n)
    factor[short] = receive[short] / wanted[short]
    phi = np.ones(n)
    limiter = np.arange(n)
    for hop, through, d in exits:  # FIFO diverge: the most constrained exit holds the cell
        f = np.where(through & (d > 0), factor[np.maximum(hop, 0)], 1.0)
        tighter = f < phi
        limiter = np.where(tighter, hop, limiter)
        phi = np.minimum(phi, f)
    flows, arrived = [], 0.0
    for g, (hop, through, d) in enumerate(exits):
        moving = hop >= 0
        y = np.where(moving, d * phi, 0.0)
        occ[g] -= y
        occ[g] += np.bincount(hop[through], weights=y[through], minlength=n)
        arrived += float(y[moving & ~through].sum())
        flows.append(y)
    downstream_held = send * (1.0 - phi)
    held = own_held + downstream_held
    limiter = np.where(downstream_held >= own_held, limiter, np.arange(n))
    return Step(flows, arrived, held, limiter)
