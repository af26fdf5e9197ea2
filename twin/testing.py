"""Public testing helpers: a small synthetic twin that every package's tests can build fast.

`small_twin()` is deterministic; it has land and sea, two units, a few grids, population,
elevation sloping towards the sea, and one facility, sensor and camera of each common kind.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from twin import cells as h3cells
from twin.dataset import LAND_USE_CODE, cells_dataset
from twin.model import Twin

CENTER = (39.0, 117.7)  # lat, lng: near Tanggu


def small_twin(resolution: int = 8, half_size_deg: float = 0.06, seed: int = 0) -> Twin:
    """A square twin around `CENTER`: land west of 117.72 E, sea east of it."""
    lat0, lng0 = CENTER
    box = shapely.box(lng0 - half_size_deg, lat0 - half_size_deg, lng0 + half_size_deg,
                      lat0 + half_size_deg)
    ids = h3cells.fill_polygons(box, resolution)
    lat, lng = h3cells.cell_centers(ids)
    rng = np.random.default_rng(seed)
    land = lng < 117.72
    west = lng < lng0 - 0.01
    unit = np.where(land, np.where(west, 0, 1), -1)
    population = np.where(land, rng.gamma(2.0, 400.0, len(ids)), 0.0).round()
    elevation = np.where(land, 0.5 + (117.72 - lng) * 40.0, -2.0 - (lng - 117.72) * 50.0)
    land_use = np.where(land, np.where(population > 900, LAND_USE_CODE["residential"],
                                       LAND_USE_CODE["farmland"]), LAND_USE_CODE["sea"])
    grid = np.where(land, unit * 10 + (lat > lat0), -1)
    road = np.where(land & (np.abs(lat - lat0) < 0.004), 3000.0, 0.0)
    ds = cells_dataset(ids, resolution, name="small", is_land=land, population=population,
                       elevation_m=elevation, land_use=land_use, unit=unit, grid=grid,
                       road_capacity=road)
    return Twin(ds, meta={"name": "small", "source": "synthetic test twin"},
                **_registries(ds, lat, lng))


def _points(rows: list[dict], resolution: int) -> gpd.GeoDataFrame:
    """A registry of points with the uint64 `cell` each lies in."""
    frame = pd.DataFrame(rows)
    lat, lng = frame.pop("lat").to_numpy(), frame.pop("lng").to_numpy()
    frame["cell"] = h3cells.points_to_cells(lat, lng, resolution)
    geometry = gpd.points_from_xy(lng, lat, crs=4326)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)


def _registries(ds: xr.Dataset, lat: np.ndarray, lng: np.ndarray) -> dict:
    lat0, lng0 = CENTER
    res = int(ds["cell_ids"].attrs["level"])
    units = gpd.GeoDataFrame(
        {"unit": [0, 1], "id": ["U0", "U1"], "name": ["西街", "东街"], "name_en": ["West", "East"],
         "kind": ["street", "street"], "source": "synthetic"},
        geometry=[shapely.box(lng0 - 0.06, lat0 - 0.06, lng0 - 0.01, lat0 + 0.06),
                  shapely.box(lng0 - 0.01, lat0 - 0.06, 117.72, lat0 + 0.06)], crs=4326)
    grid_ids = sorted(int(g) for g in np.unique(ds["grid"].values) if g >= 0)
    grids = gpd.GeoDataFrame(
        {"grid": grid_ids, "id": [f"G{g:03d}" for g in grid_ids],
         "unit": [g // 10 for g in grid_ids], "manager": [f"grid-manager-{g}" for g in grid_ids],
         "population": [float(ds["population"].values[ds["grid"].values == g].sum())
                        for g in grid_ids]},
        geometry=[shapely.MultiPoint(np.c_[lng[ds["grid"].values == g],
                                           lat[ds["grid"].values == g]]).convex_hull
                  for g in grid_ids], crs=4326)
    facilities = _points([
        {"id": "F-shelter-1", "name": "避难场所1", "kind": "shelter", "capacity": 5000,
         "lat": lat0 + 0.02, "lng": lng0 - 0.04},
        {"id": "F-hospital-1", "name": "医院1", "kind": "hospital", "capacity": 300,
         "lat": lat0, "lng": lng0 - 0.03},
        {"id": "F-school-1", "name": "学校1", "kind": "school", "capacity": 1200,
         "lat": lat0 - 0.02, "lng": lng0 - 0.02},
        {"id": "F-fire-1", "name": "消防站1", "kind": "fire_station", "capacity": 0,
         "lat": lat0 + 0.01, "lng": lng0},
        {"id": "F-chem-1", "name": "危化企业1", "kind": "hazchem_site", "capacity": 0,
         "lat": lat0 - 0.01, "lng": lng0 + 0.005},
    ], res)
    sensors = _points([
        {"id": "S-wl-1", "kind": "water_level", "metric": "water_level_m", "interval_s": 60,
         "lat": lat0, "lng": lng0 + 0.01},
        {"id": "S-rain-1", "kind": "rain", "metric": "rain_mm_h", "interval_s": 300,
         "lat": lat0 + 0.01, "lng": lng0 - 0.02},
        {"id": "S-gas-1", "kind": "gas", "metric": "co_ppm", "interval_s": 60,
         "lat": lat0 - 0.01, "lng": lng0 + 0.006},
    ], res)
    cameras = _points([
        {"id": "C-1", "kind": "community_entrance", "no_parking": False,
         "lat": lat0 + 0.005, "lng": lng0 - 0.03},
        {"id": "C-2", "kind": "road", "no_parking": True, "lat": lat0, "lng": lng0 - 0.01},
    ], res)
    departments = pd.DataFrame({
        "id": ["water", "emergency", "police"],
        "name": ["水务局", "应急管理局", "公安局"],
        "name_en": ["Water Affairs", "Emergency Management", "Public Security"],
        "categories": [["waterlogging"], ["gas_leak", "fire"], ["crowd", "thrown_object"]],
    })
    return {"units": units, "grids": grids, "facilities": facilities, "sensors": sensors,
            "cameras": cameras, "departments": departments, "zones": None}
