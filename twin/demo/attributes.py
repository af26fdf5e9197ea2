"""Static per-cell attributes of the Binhai demo: land/sea, population, land use, elevation, roads.

Everything here is synthetic but shaped after the real district (see data/binhai/SOURCES.md):
population concentrated around the real urban cores, a low coastal plain 0-6 m behind a sea wall,
river channels, ports and petrochemical areas where the real ones are, capacity on main corridors.
All computations are vectorised over cells.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from twin import cells as h3cells
from twin.dataset import LAND_USE_CODE
from twin.demo import geography as geo

SEA_WALL_M = (5.0, 6.0)  # crest range of the coastal sea wall: older segments lower (demo)


def cell_layout(resolution: int, land_geom=None, sea_geom=None) -> dict:
    """Cell ids (sorted), is_land and the local metric coordinates of cell centres, on the
    cells of a land and a sea geometry (default: Binhai's)."""
    if land_geom is None:
        land_geom, sea_geom = geo.boundary_and_sea()
    land = h3cells.fill_polygons(land_geom, resolution)
    sea = np.setdiff1d(h3cells.fill_polygons(sea_geom, resolution), land)
    ids = np.union1d(land, sea).astype(np.uint64)
    is_land = np.isin(ids, land)
    lat, lng = h3cells.cell_centers(ids)
    x, y = geo.to_xy(lat, lng)
    return {"cell_ids": ids, "is_land": is_land, "lat": lat, "lng": lng, "x": x, "y": y,
            "resolution": int(resolution)}


def _smooth_noise(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  waves: int = 8) -> np.ndarray:
    """Spatially smooth noise in [-1, 1]: a sum of random plane waves of 4-25 km."""
    total = np.zeros_like(x)
    for _ in range(waves):
        k = 2 * np.pi / rng.uniform(4_000, 25_000)
        angle, phase = rng.uniform(0, 2 * np.pi, 2)
        total += np.sin(k * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    return total / np.sqrt(waves * 0.5) / 3.0


def _nearest_distance(x, y, from_mask, to_mask) -> np.ndarray:
    """Distance (m) from each cell to the nearest cell of `to_mask` (0 where none exist)."""
    out = np.zeros_like(x)
    if to_mask.any() and from_mask.any():
        tree = cKDTree(np.c_[x[to_mask], y[to_mask]])
        out[from_mask] = tree.query(np.c_[x[from_mask], y[from_mask]])[0]
    return out


def _disc_codes(x, y, items: list, default: np.ndarray) -> np.ndarray:
    """Land-use codes of discs [name, lat, lng, radius_km, use] painted over `default`."""
    codes = default.copy()
    for _, lat, lng, radius_km, use in items:
        inside = geo.distance_to_point(x, y, lat, lng) <= radius_km * 1000.0
        codes[inside] = LAND_USE_CODE[use]
    return codes


def population(layout: dict, rng: np.random.Generator, spec: dict,
               habitable: np.ndarray) -> np.ndarray:
    """Residents per cell: Gaussian urban cores plus a thin rural background, summing to total."""
    x, y = layout["x"], layout["y"]
    total = float(spec["total"])
    pop = np.zeros_like(x)
    for _, lat, lng, sigma_km, share in spec["cores"]:
        w = np.exp(-0.5 * (geo.distance_to_point(x, y, lat, lng) / (sigma_km * 1000.0)) ** 2)
        w = np.where(habitable, w, 0.0)
        pop += total * share * w / max(w.sum(), 1e-300)
    rural = np.where(habitable, rng.gamma(1.5, 1.0, len(x)), 0.0)
    pop += total * float(spec["rural_share"]) * rural / rural.sum()
    pop *= np.exp(0.25 * rng.standard_normal(len(x)))  # block-to-block variation
    pop = np.where(habitable, pop, 0.0)
    pop *= total / pop.sum()
    return np.round(pop)


def sub_layout(layout: dict, mask: np.ndarray) -> dict:
    """The layout of some of its cells (a boolean mask)."""
    return {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in layout.items()}


def attributes(layout: dict, seed: int, people=None) -> dict:
    """All static variables of the demo cells, as numpy arrays keyed by variable name.

    Rivers, waters, industry and roads are Binhai's (data/binhai/places.yaml), wherever they
    fall in the layout. `people(layout, rng, habitable) -> residents per cell` spreads the
    population (default: Binhai's urban cores, `population`)."""
    rng = np.random.default_rng(seed)
    spec = geo.places()
    x, y, land = layout["x"], layout["y"], layout["is_land"]
    edge = h3cells.edge_length_m(layout["resolution"])
    near = max(edge, 150.0)
    river = land & geo.near_lines(x, y, list(spec["rivers"].values()), near).any(axis=0)
    sea_d = _nearest_distance(x, y, land, ~land)
    land_d = _nearest_distance(x, y, ~land, land)

    use = np.where(land, LAND_USE_CODE["farmland"], LAND_USE_CODE["sea"]).astype(np.int8)
    use = np.where(land, _disc_codes(x, y, spec["waters"], use), use)
    use = np.where(land, _disc_codes(x, y, spec["industry"], use), use)
    use[river] = LAND_USE_CODE["water"]
    not_habitable = np.isin(use, [LAND_USE_CODE[k] for k in
                                  ("sea", "water", "wetland", "port", "petrochemical")])
    habitable = land & ~not_habitable
    pop = (people or (lambda lay, r, hab: population(lay, r, spec["population"], hab)))(
        layout, rng, habitable)
    density_rank = np.argsort(np.argsort(pop)) / max(len(pop) - 1, 1)
    urban = habitable & (pop > 250 * (edge / h3cells.edge_length_m(9)) ** 2)  # 2,400/km2
    use[urban] = LAND_USE_CODE["residential"]
    use[urban & (density_rank > 0.985)] = LAND_USE_CODE["commercial"]

    noise = _smooth_noise(x, y, rng)
    z_land = 1.2 + 3.6 * np.clip(sea_d / 35_000.0, 0, 1) + 0.8 * noise
    z_land = np.where(river, z_land - 1.8, z_land)
    z_land = np.where(np.isin(use, [LAND_USE_CODE["water"], LAND_USE_CODE["wetland"]]),
                      np.minimum(z_land, 0.8), z_land)
    coast = land & (sea_d <= 1.5 * edge * np.sqrt(3))
    lo, hi = SEA_WALL_M
    crest = lo + (hi - lo) * np.clip(0.5 + 1.5 * _smooth_noise(x, y, rng, waves=4), 0, 1)
    z_land = np.where(coast & ~river, crest, z_land)
    z_sea = -(0.5 + 0.9 * land_d / 1000.0) + 0.3 * noise
    elevation = np.where(land, np.clip(z_land, 0.0, 6.0), np.clip(z_sea, -15.0, -0.2))

    road = np.zeros_like(x)
    corridors = geo.near_lines(x, y, [line for _, _, line in spec["roads"]], near)
    for (_, capacity, _), along in zip(spec["roads"], corridors, strict=True):
        road = np.where(land & along, np.maximum(road, float(capacity)), road)
    local = 300.0 + 1500.0 * np.sqrt(pop / max(pop.max(), 1.0))
    road = np.where(land & (road == 0) & (use != LAND_USE_CODE["water"]), local, road)
    return {"is_land": land, "population": pop, "elevation_m": elevation.astype(np.float32),
            "land_use": use, "road_capacity": road.astype(np.float32),
            "coast": coast, "river": river}
