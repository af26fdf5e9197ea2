"""Epidemic: a metapopulation SEIR model over cells with neighbour mixing and interventions.

Formulation: the SEIR compartment model (Anderson & May (1991), Infectious Diseases of Humans,
ch. 6; Keeling & Rohani (2008), Modeling Infectious Diseases, ch. 2 and 7 for the
metapopulation coupling). In cell i with N_i people,

    dS/dt = -lambda_i S,  dE/dt = lambda_i S - sigma E,  dI/dt = sigma E - gamma I,  dR/dt = gamma I
    lambda_i = beta c_i(t) [ (1 - m) I_i / N_i + m mean_{j in nbrs(i)} I_j / N_j ]

with beta = R0 gamma, sigma = 1 / latent period, gamma = 1 / infectious period, m the share of
contacts made in neighbouring cells and c_i(t) <= 1 the contact factor left by interventions.
Known results it reproduces: the final size z = 1 - exp(-R0 z) of a closed well-mixed
population (Kermack & McKendrick 1927), and the early growth rate r solving
(1 + r / sigma)(1 + r / gamma) = R0 (Wallinga & Lipsitch 2007). Integrated with classical RK4
at a fixed step; people never move between cells, so each cell's S+E+I+R is conserved.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def growth_rate(r0: float, latent_days: float, infectious_days: float) -> float:
    """Early exponential growth rate (1/day) of SEIR: (1 + r/sigma)(1 + r/gamma) = R0."""
    s, g = 1.0 / latent_days, 1.0 / infectious_days
    return 0.5 * (-(s + g) + np.sqrt((s - g) ** 2 + 4 * s * g * r0))


def final_size(r0: float) -> float:
    """Share ever infected in a closed well-mixed population: z = 1 - exp(-R0 z)."""
    if r0 <= 1:
        return 0.0
    z = 0.5
    for _ in range(200):
        z = 1.0 - np.exp(-r0 * z)
    return float(z)


def _contact_factor(interventions, n: int) -> list[tuple[float, np.ndarray]]:
    """[(from_day, per-cell factor)] sorted by day, each cumulative over earlier ones."""
    steps = []
    for k, item in enumerate(interventions or []):
        for key in ("cells", "from_day", "contact_reduction"):
            if key not in item:
                raise ValueError(f"interventions[{k}] needs '{key}' (cells: positions, from_day: "
                                 f"day number, contact_reduction: share 0..1)")
        red = float(item["contact_reduction"])
        if not 0.0 <= red <= 1.0:
            raise ValueError(f"interventions[{k}]['contact_reduction'] must be in 0..1, got {red}")
        cells = np.asarray(item["cells"])
        mask = np.zeros(n, bool)
        mask[np.flatnonzero(cells) if cells.dtype == bool else cells.astype(np.int64)] = True
        steps.append((float(item["from_day"]), mask, red))
    steps.sort(key=lambda s: s[0])
    out, factor = [], np.ones(n)
    for day, mask, red in steps:
        factor = factor.copy()
        factor[mask] *= 1.0 - red
        out.append((day, factor))
    return out


def simulate(population, neighbors, *, r0: float, latent_days: float, infectious_days: float,
             mobility: float = 0.0, seed_infections, days: int, interventions=None,
             steps_per_day: int = 4) -> xr.Dataset:
    """Run the SEIR model; S, E, I, R (time in days, cell) plus new infections per day.

    `seed_infections`: per-cell array of initially infectious people, or {position: count}.
    `interventions`: [{"cells": positions, "from_day": d, "contact_reduction": 0.5}, ...].
    """
    pop = np.asarray(population, dtype=float)
    n = len(pop)
    nb = np.asarray(neighbors).reshape(n, -1)
    if (pop < 0).any():
        raise ValueError("population must be non-negative")
    if r0 < 0 or latent_days <= 0 or infectious_days <= 0:
        raise ValueError("r0 must be >= 0 and latent_days, infectious_days positive (days)")
    if not 0.0 <= mobility <= 1.0:
        raise ValueError(f"mobility (share of contacts in neighbouring cells) must be in 0..1, "
                         f"got {mobility}")
    if isinstance(seed_infections, dict):
        seed = np.zeros(n)
        for pos, count in seed_infections.items():
            seed[int(pos)] += float(count)
    else:
        seed = np.broadcast_to(np.asarray(seed_infections, dtype=float), (n,)).copy()
    seed = np.minimum(seed, pop)
    sigma, gamma = 1.0 / latent_days, 1.0 / infectious_days
    beta = r0 * gamma
    valid = nb >= 0
    nbi = np.where(valid, nb, 0)
    deg = valid.sum(1)
    m_eff = np.where(deg > 0, mobility, 0.0)  # an isolated cell mixes only with itself
    safe_pop = np.where(pop > 0, pop, 1.0)
    changes = _contact_factor(interventions, n)

    def rates(y, c):
        s, e, i, _ = y
        prev = i / safe_pop
        nbr = np.where(valid, prev[nbi], 0.0).sum(1) / np.maximum(deg, 1)
        lam = beta * c * ((1 - m_eff) * prev + m_eff * nbr)
        inf, onset, rec = lam * s, sigma * e, gamma * i
        return np.stack([-inf, inf - onset, onset - rec, rec])

    y = np.stack([pop - seed, np.zeros(n), seed, np.zeros(n)])
    out = np.empty((days + 1, 4, n))
    out[0] = y
    h = 1.0 / steps_per_day
    for day in range(days):
        c = np.ones(n)
        for start, factor in changes:
            if day >= start:
                c = factor
        for _ in range(steps_per_day):
            k1 = rates(y, c)
            k2 = rates(y + 0.5 * h * k1, c)
            k3 = rates(y + 0.5 * h * k2, c)
            k4 = rates(y + h * k3, c)
            y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            y[0] = np.maximum(y[0], 0.0)  # round-off guard on S
        out[day + 1] = y
    names = ("S", "E", "I", "R")
    data = {v: (("time", "cell"), out[:, k], {"units": "persons"}) for k, v in enumerate(names)}
    data["new_infections"] = (("time", "cell"),
                              np.r_[np.zeros((1, n)), -np.diff(out[:, 0], axis=0)],
                              {"units": "persons/day", "long_name": "people infected that day"})
    total0 = pop.sum()
    drift = float(np.abs(out.sum(1) - pop).max())
    return xr.Dataset(data, coords={"time": ("time", np.arange(days + 1) * 86400.0,
                                             {"units": "s"}),
                                    "day": ("time", np.arange(days + 1))},
                      attrs={"model": "metapopulation SEIR (RK4)", "r0": float(r0),
                             "people_conservation_error": drift,
                             "people_total": float(total0)})
