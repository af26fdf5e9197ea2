"""Registries of the Binhai demo: streets/towns, zones, facilities, sensors, cameras, departments.

Units are a demo partition (nearest approximate seat of each real street/town, i.e. Voronoi cells
in a local metric frame, clipped to the real boundary). Facilities, sensors and cameras are
synthetic, placed by population, land use and road corridors; each row says so in `source`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from twin.dataset import LAND_USE_CODE
from twin.demo import geography as geo

SYNTHETIC = "synthetic (demo)"


def assign_units(layout: dict) -> np.ndarray:
    """Unit index of each land cell: the nearest street/town seat; -1 at sea."""
    seats = geo.places()["units"]
    sx, sy = geo.to_xy([s[4] for s in seats], [s[5] for s in seats])
    _, nearest = cKDTree(np.c_[sx, sy]).query(np.c_[layout["x"], layout["y"]])
    return np.where(layout["is_land"], nearest, -1).astype(np.int16)


def voronoi_polygons(sx: np.ndarray, sy: np.ndarray, area) -> list:
    """Lng/lat polygons of the Voronoi cells of seats (local metric x, y) clipped to `area`
    (lng/lat), in the order of the seats."""
    area_xy = geo.geometry_to_xy(area)
    points = shapely.points(sx, sy)
    if len(points) == 1:
        return [geo.geometry_from_xy(area_xy)]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(np.c_[sx, sy]),
                                                       extend_to=area_xy.buffer(50_000)))
    polygons = []
    for p in points:  # voronoi_polygons does not keep input order: match each seat to its cell
        cell = cells[shapely.contains(cells, p)][0]
        polygons.append(geo.geometry_from_xy(cell.intersection(area_xy)))
    return polygons


def units_registry(land_geom) -> gpd.GeoDataFrame:
    """The 21 streets/towns with Voronoi demo polygons clipped to the boundary."""
    seats = geo.places()["units"]
    sx, sy = geo.to_xy([s[4] for s in seats], [s[5] for s in seats])
    polygons = voronoi_polygons(sx, sy, land_geom)
    return gpd.GeoDataFrame(
        {"unit": np.arange(len(seats), dtype=np.int16), "id": [s[0] for s in seats],
         "name": [s[1] for s in seats], "name_en": [s[2] for s in seats],
         "kind": [s[3] for s in seats], "seat_lat": [s[4] for s in seats],
         "seat_lng": [s[5] for s in seats],
         "source": "names real; polygon a demo partition (Voronoi around approximate seats)"},
        geometry=gpd.GeoSeries(polygons, crs=4326), crs=4326)


def zones_registry(land_geom) -> gpd.GeoDataFrame:
    """The five development zones as approximate discs clipped to the boundary."""
    zones = geo.places()["zones"]
    land_xy = geo.geometry_to_xy(land_geom)
    geoms = []
    for _, _, _, lat, lng, radius_km in zones:
        x, y = geo.to_xy(lat, lng)
        disc = shapely.Point(float(x), float(y)).buffer(radius_km * 1000.0)
        geoms.append(geo.geometry_from_xy(disc.intersection(land_xy)))
    return gpd.GeoDataFrame(
        {"id": [z[0] for z in zones], "name": [z[1] for z in zones],
         "name_en": [z[2] for z in zones], "kind": "development_zone",
         "source": "names real; extent an approximate disc (demo)"},
        geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n distinct cell positions drawn with probability proportional to `weights`."""
    weights = np.clip(np.asarray(weights, dtype=float), 0, None)
    candidates = np.flatnonzero(weights > 0)
    n = min(n, len(candidates))
    if n == 0:
        return np.empty(0, dtype=np.int64)
    p = weights[candidates] / weights[candidates].sum()
    return np.sort(rng.choice(candidates, size=n, replace=False, p=p))


def _jitter(rng, layout, positions, edge_m):
    """Points scattered inside their cells (lat, lng)."""
    r = rng.uniform(0, 0.5 * edge_m, len(positions))
    a = rng.uniform(0, 2 * np.pi, len(positions))
    return geo.from_xy(layout["x"][positions] + r * np.cos(a),
                       layout["y"][positions] + r * np.sin(a))


def _points_frame(rng, layout, attrs, positions, edge_m, columns: dict) -> gpd.GeoDataFrame:
    lat, lng = _jitter(rng, layout, positions, edge_m)
    frame = pd.DataFrame(columns)
    frame["cell"] = layout["cell_ids"][positions]
    frame["unit"] = attrs["unit"][positions].astype(np.int16)
    frame["source"] = SYNTHETIC
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lng, lat, crs=4326), crs=4326)


FACILITY_KINDS = {  # kind: (count, name, name_en, capacity range)
    "shelter": (60, "应急避难场所", "Emergency shelter", (3_000, 20_000)),
    "hospital": (18, "医院", "Hospital", (150, 1_500)),
    "school": (160, "学校", "School", (600, 3_000)),
    "fire_station": (26, "消防站", "Fire station", (0, 0)),
    "hazchem_site": (40, "危险化学品企业", "Hazardous-chemical site", (0, 0)),
}
CHEMICALS = ("chlorine", "ammonia", "hydrogen_sulfide", "benzene", "sulfur_dioxide",
             "hydrogen_chloride")


def scaled(count: int, scale: float) -> int:
    """A registry count for a city `scale` times Binhai's population (at least 1)."""
    return max(1, int(round(count * scale)))


def facilities_registry(layout: dict, attrs: dict, rng: np.random.Generator,
                        edge_m: float, scale: float = 1.0) -> gpd.GeoDataFrame:
    """Shelters, hospitals, schools, fire stations and hazardous-chemical sites (Binhai's
    counts times `scale`)."""
    pop, use, land = attrs["population"], attrs["land_use"], layout["is_land"]
    chem_area = np.isin(use, [LAND_USE_CODE["petrochemical"], LAND_USE_CODE["port"]])
    weights = {"shelter": pop, "hospital": pop ** 1.5, "school": pop,
               "fire_station": np.where(land, np.sqrt(pop) + 5.0, 0.0),
               "hazchem_site": np.where(chem_area, 1.0, 0.0)}
    frames = []
    for kind, (count, name, name_en, (lo, hi)) in FACILITY_KINDS.items():
        pos = _pick(rng, weights[kind], scaled(count, scale))
        n = len(pos)
        capacity = np.round(rng.uniform(lo, hi, n), -1).astype(np.int64) if hi else np.zeros(
            n, dtype=np.int64)
        frames.append(_points_frame(rng, layout, attrs, pos, edge_m, {
            "id": [f"F-{kind}-{i + 1:03d}" for i in range(n)],
            "name": [f"{name}{i + 1}号" for i in range(n)],
            "name_en": [f"{name_en} {i + 1}" for i in range(n)],
            "kind": kind, "capacity": capacity,
            "chemical": rng.choice(CHEMICALS, n) if kind == "hazchem_site" else "",
            "inventory_t": np.round(rng.uniform(5, 500, n)) if kind == "hazchem_site" else 0.0}))
    frames.append(_warehouse_2015(layout, attrs, rng, edge_m))
    return pd.concat(frames, ignore_index=True)


def _warehouse_2015(layout, attrs, rng, edge_m) -> gpd.GeoDataFrame:
    lat, lng = geo.places()["landmarks"]["port_warehouse_2015"]
    d = geo.distance_to_point(layout["x"], layout["y"], lat, lng)
    pos = np.array([int(np.argmin(np.where(layout["is_land"], d, np.inf)))])
    return _points_frame(rng, layout, attrs, pos, edge_m, {
        "id": ["F-hazchem_site-port-warehouse"], "name": ["港区危险品仓库（示例）"],
        "name_en": ["Port dangerous-goods warehouse (demo, near the 2015 explosion site)"],
        "kind": ["hazchem_site"], "capacity": [0], "chemical": ["ammonium_nitrate"],
        "inventory_t": [800.0]})


SENSOR_KINDS = {  # kind: (count, metric, interval_s)
    "water_level": (30, "water_level_m", 60),
    "rain": (25, "rain_mm_h", 300),
    "air": (20, "pm25", 300),
    "gas": (36, "co_ppm", 60),
    "weather": (10, "temp_c", 600),
    "smoke": (24, "smoke", 60),
}


def sensors_registry(layout, attrs, facilities, rng, edge_m,
                     scale: float = 1.0) -> gpd.GeoDataFrame:
    """Water-level, rain, air, gas, weather and smoke sensors (Binhai's counts times `scale`)."""
    land, pop = layout["is_land"], attrs["population"]
    chem = np.zeros(len(land))
    chem_cells = np.searchsorted(layout["cell_ids"],
                                 facilities.loc[facilities.kind == "hazchem_site", "cell"].values)
    chem[chem_cells] = 1.0
    big = np.zeros(len(land))
    big[np.searchsorted(layout["cell_ids"], facilities.loc[
        facilities.kind.isin(["school", "hospital"]), "cell"].values)] = 1.0
    weights = {"water_level": (attrs["river"] | attrs["coast"]).astype(float),
               "rain": np.where(land, 1.0, 0.0), "air": np.where(land, np.sqrt(pop) + 1, 0.0),
               "gas": chem, "weather": np.where(land, 1.0, 0.0), "smoke": big}
    frames = []
    for kind, (count, metric, interval) in SENSOR_KINDS.items():
        pos = _pick(rng, weights[kind], scaled(count, scale))
        frames.append(_points_frame(rng, layout, attrs, pos, edge_m, {
            "id": [f"S-{kind}-{i + 1:03d}" for i in range(len(pos))], "kind": kind,
            "metric": metric, "interval_s": np.full(len(pos), interval, dtype=np.int64)}))
    return pd.concat(frames, ignore_index=True)


CAMERA_KINDS = {"community_entrance": 300, "road": 200, "port": 40}


def cameras_registry(layout, attrs, rng, edge_m, scale: float = 1.0) -> gpd.GeoDataFrame:
    """Cameras at community entrances, on roads and in the port; some watch no-parking cells
    (Binhai's counts times `scale`)."""
    use, road = attrs["land_use"], attrs["road_capacity"]
    weights = {"community_entrance": np.where(use == LAND_USE_CODE["residential"],
                                              attrs["population"], 0.0),
               "road": np.where(road >= 4000, 1.0, 0.0),
               "port": np.where(use == LAND_USE_CODE["port"], 1.0, 0.0)}
    frames = []
    for kind, count in CAMERA_KINDS.items():
        pos = _pick(rng, weights[kind], scaled(count, scale))
        share = {"road": 0.4, "community_entrance": 0.15, "port": 0.0}[kind]
        frames.append(_points_frame(rng, layout, attrs, pos, edge_m, {
            "id": [f"C-{kind}-{i + 1:03d}" for i in range(len(pos))], "kind": kind,
            "no_parking": rng.random(len(pos)) < share}))
    return pd.concat(frames, ignore_index=True)


def departments_registry() -> pd.DataFrame:
    """The 29 departments and the event categories each answers for."""
    rows = [{"id": key, "name": name, "name_en": name_en, "categories": list(categories)}
            for key, (name, name_en, categories) in geo.departments().items()]
    return pd.DataFrame(rows)


NUMERALS = "一二三四五六七八九十"
GRIDS_PER_COMMUNITY = 3


def with_communities(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids with the community (社区) each belongs to, `community` / `community_en`: every
    street/town's grids in runs of three, named after it ("新港第一社区", "Xingang Community 1";
    synthetic names, real-looking, as the gazetteer's community level)."""
    seats = geo.places()["units"]
    stems = [(s[1].removesuffix("街道").removesuffix("镇"),
              s[2].removesuffix(" Subdistrict").removesuffix(" Town")) for s in seats]
    out = grids.sort_values("grid", kind="stable")
    n = out.groupby("unit").cumcount().to_numpy() // GRIDS_PER_COMMUNITY
    zh, en = [], []
    for unit, k in zip(out["unit"].to_numpy(), n, strict=True):
        stem_zh, stem_en = stems[int(unit)] if 0 <= int(unit) < len(stems) else ("", "")
        zh.append(f"{stem_zh}第{NUMERALS[k] if k < len(NUMERALS) else k + 1}社区")
        en.append(f"{stem_en} Community {k + 1}")
    out["community"], out["community_en"] = zh, en
    return out.loc[grids.index]
