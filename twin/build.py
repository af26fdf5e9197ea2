"""Build a twin from a city's own data: boundary polygons + optional units, population,
elevation and facilities.

`build_twin` is pure (GeoDataFrames and arrays in, a `Twin` and a report out); `build_from_files`
reads and checks the files first (`twin.readers`). The cells are those whose centre lies in the
boundary. Points that fall outside the boundary are never silently dropped: the report counts
them (and the twin's `meta["build"]["report"]` keeps that report on disk). A request for more
cells than `twin.settings.max_cells()` is refused before any work, from an estimate
(`estimate_cells`), with the finest resolution that fits.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from pyproj import Geod
from scipy.spatial import cKDTree

from twin import cells as h3cells
from twin import crs as crs_mod
from twin import readers, settings
from twin.dataset import cells_dataset
from twin.errors import TwinInputError
from twin.grids import grids_registry, partition_grids
from twin.model import Twin

__all__ = ["build_twin", "build_from_files", "check_resolution", "check_size", "estimate_cells",
           "GRID_TARGET"]

GRID_TARGET = 2000.0  # residents per governance grid (grids end up about 1,000-3,000)


def check_resolution(resolution, source: str = "--resolution") -> int:
    """The H3 resolution as an int, or a TwinInputError when it is not 0-15."""
    try:
        value = int(resolution)
    except (TypeError, ValueError):
        value = None
    if value is None or value != resolution or not 0 <= value <= 15:
        raise TwinInputError(source, f"resolution {resolution!r} is outside 0-15: give a whole "
                                     f"number from 0 to 15 (9 is about 0.1 km2 per cell)")
    return value


def estimate_cells(outline: shapely.Geometry, resolution: int) -> int:
    """About how many cells a boundary makes at a resolution, without making them: its geodesic
    area over the area of the H3 cell at its centre (cell areas vary up to twofold over the
    globe, but little across one city)."""
    area = abs(Geod(ellps="WGS84").geometry_area_perimeter(outline)[0])
    centre = shapely.centroid(outline)
    cell = h3cells.points_to_cells(np.array([centre.y]), np.array([centre.x]), resolution)
    return int(round(area / h3cells.cell_areas_m2(cell)[0]))


def check_size(outline: shapely.Geometry, resolution: int, limit: int,
               source: str = "--resolution") -> int:
    """The estimated cell count, or a TwinInputError saying how many cells the request would
    make and which resolution fits under `limit`."""
    estimate = estimate_cells(outline, resolution)
    if estimate <= limit:
        return estimate
    fits = next((r for r in range(resolution - 1, -1, -1)
                 if estimate_cells(outline, r) <= limit), 0)
    raise TwinInputError(source, f"resolution {resolution} would make about {estimate:,} cells, "
                                 f"more than the limit of {limit:,} ($CITYOPS_MAX_CELLS): use "
                                 f"resolution {fits} or coarser (about "
                                 f"{estimate_cells(outline, fits):,} cells), or raise the limit")


def _max_cells(max_cells: int | None) -> int:
    if max_cells is not None:
        return int(max_cells)
    try:
        return settings.max_cells()
    except ValueError as exc:
        raise TwinInputError("settings", str(exc)) from exc


class _Placer:
    """Maps points to twin cell positions; tells points outside the boundary from edge points.

    A point inside the boundary whose cell's centre lies outside it (so the cell is not in the
    twin) goes to the nearest twin cell; only points outside the boundary are left out (-1).
    """

    def __init__(self, base: Twin, boundary: shapely.Geometry) -> None:
        self.base = base
        self.boundary = boundary
        shapely.prepare(boundary)
        lat, lng = base.centers
        self._scale = np.cos(np.radians(np.mean(lat))) if len(lat) else 1.0
        self._tree = cKDTree(np.c_[lat, lng * self._scale])

    def nearest(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Position of the twin cell whose centre is nearest each point."""
        return self._tree.query(np.c_[lat, np.asarray(lng) * self._scale])[1].astype(np.int64)

    def place(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Cell positions of points; -1 for points outside the boundary."""
        lat = np.asarray(lat, dtype=float)
        lng = np.asarray(lng, dtype=float)
        pos = self.base.locate(lat, lng)
        missing = np.flatnonzero(pos < 0)
        if missing.size:
            inside = shapely.contains_xy(self.boundary, lng[missing], lat[missing])
            pos[missing[inside]] = self.nearest(lat[missing[inside]], lng[missing[inside]])
        return pos


def _fill_nearest(values: np.ndarray, has: np.ndarray, lat: np.ndarray,
                  lng: np.ndarray) -> np.ndarray:
    """Copy each missing value from the nearest cell that has one."""
    if has.all() or not has.any():
        return values
    scale = np.cos(np.radians(np.mean(lat)))
    tree = cKDTree(np.c_[lat[has], lng[has] * scale])
    idx = tree.query(np.c_[lat[~has], lng[~has] * scale])[1]
    out = values.copy()
    out[~has] = values[has][idx]
    return out


def _lat_lng(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of a point table: its lat/lng columns, else its point geometries."""
    if "lat" in points and "lng" in points:
        return points["lat"].to_numpy(dtype=float), points["lng"].to_numpy(dtype=float)
    geoms = points.geometry.values
    geoms = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    return shapely.get_y(geoms), shapely.get_x(geoms)


# -- the parts of a twin ------------------------------------------------------------------------
def _cells(boundary: gpd.GeoDataFrame, resolution: int, source: str) -> np.ndarray:
    ids = h3cells.fill_polygons(boundary.geometry.values, resolution)
    if ids.size == 0:
        raise TwinInputError(source, f"no H3 cell centre at resolution {resolution} falls inside "
                                     f"the boundary: use a finer resolution or a larger boundary")
    return ids


def _unit_of_cells(base: Twin, units: gpd.GeoDataFrame) -> np.ndarray:
    """Index of the unit polygon holding each cell centre (the first one if they overlap)."""
    lat, lng = base.centers
    tree = shapely.STRtree(units.geometry.values)
    cell, poly = tree.query(shapely.points(lng, lat), predicate="within")
    first = np.full(len(base), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cell, poly)
    return np.where(first == np.iinfo(np.int64).max, -1, first).astype(np.int16)


def _units_registry(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """`unit` index, `id`, `name` first, the file's other columns after them."""
    n = len(units)
    ids = units["id"].astype(str).to_numpy() if "id" in units else np.array(
        [f"U{i + 1}" for i in range(n)])
    names = units["name"].astype(str).to_numpy() if "name" in units else ids
    rest = units.drop(columns=[c for c in ("unit", "id", "name") if c in units])
    head = pd.DataFrame({"unit": np.arange(n, dtype=np.int32), "id": ids, "name": names},
                        index=units.index)
    return gpd.GeoDataFrame(pd.concat([head, rest], axis=1), geometry=units.geometry.name,
                            crs=4326).reset_index(drop=True)


def _units_and_grids(base: Twin, units: gpd.GeoDataFrame, people: np.ndarray, target: float,
                     source: str) -> tuple:
    """Unit and governance grid of every cell, and what the report says of them."""
    unit = _unit_of_cells(base, units)
    grid = partition_grids(base.neighbors, unit, people, target=target)
    report = {"source": source, "features": int(len(units)),
              "cells_outside_units": int((unit < 0).sum()), "grids": int(grid.max() + 1)}
    return unit, grid, report


def _population_points(place: _Placer, points: pd.DataFrame, source: str) -> tuple:
    pos = place.place(*_lat_lng(points))
    count = points["count"].to_numpy(dtype=float)
    ok = pos >= 0
    pop = np.bincount(pos[ok], weights=count[ok], minlength=len(place.base))
    report = {"source": source, "kind": "points", "features": int(len(points)),
              "outside": int((~ok).sum()), "outside_count": float(count[~ok].sum())}
    return pop, report


def _population_polygons(place: _Placer, polygons: gpd.GeoDataFrame, source: str) -> tuple:
    """Each polygon's count over the cells whose centre it holds, in proportion to cell area;
    the share of the polygon lying outside the boundary is reported, not placed."""
    n = len(place.base)
    geoms = polygons.geometry.values
    count = polygons["count"].to_numpy(dtype=float)
    area = shapely.area(geoms)
    kept = shapely.area(shapely.intersection(geoms, place.boundary))
    share = np.divide(kept, area, out=np.ones_like(area), where=area > 0)
    count_in = count * np.clip(share, 0.0, 1.0)
    lat, lng = place.base.centers
    poly, cell = shapely.STRtree(shapely.points(lng, lat)).query(geoms, predicate="contains")
    weight = place.base.area_m2[cell]
    total = np.bincount(poly, weights=weight, minlength=len(geoms))
    pop = np.bincount(cell, weights=count_in[poly] * weight / total[poly], minlength=n)
    small = np.flatnonzero((total == 0) & (count_in > 0))  # no cell centre inside: one cell
    unplaced = 0.0
    if small.size:
        anchor = shapely.point_on_surface(geoms[small])
        pos = place.place(shapely.get_y(anchor), shapely.get_x(anchor))
        ok = pos >= 0
        pop += np.bincount(pos[ok], weights=count_in[small][ok], minlength=n)
        unplaced = float(count_in[small][~ok].sum())
    report = {"source": source, "kind": "polygons", "features": int(len(polygons)),
              "outside": int((share <= 0).sum()),
              "outside_count": float((count - count_in).sum()) + unplaced}
    return pop, report


def _elevation_points(place: _Placer, points: pd.DataFrame, source: str) -> tuple:
    """Mean of the points in each cell; cells without any take the nearest cell's value."""
    base = place.base
    lat, lng = base.centers
    plat, plng = _lat_lng(points)
    z = points["elevation_m"].to_numpy(dtype=float)
    pos = place.place(plat, plng)
    ok = pos >= 0
    hits = np.bincount(pos[ok], minlength=len(base))
    total = np.bincount(pos[ok], weights=z[ok], minlength=len(base))
    has = hits > 0
    values = np.divide(total, hits, out=np.zeros(len(base)), where=has)
    if has.any():
        values = _fill_nearest(values, has, lat, lng)
    else:  # every point outside: the nearest point, wherever it is
        scale = np.cos(np.radians(np.mean(lat)))
        values = z[cKDTree(np.c_[plat, plng * scale]).query(np.c_[lat, lng * scale])[1]]
    report = {"source": source, "kind": "points", "features": int(len(points)),
              "outside": int((~ok).sum()), "filled_cells": int((~has).sum())}
    return values, report


def _elevation_grid(base: Twin, grid: xr.DataArray, source: str) -> tuple:
    """Bilinear interpolation at cell centres; cells off the grid take the nearest cell's value.

    A grid whose `crs` attribute is gcj02/bd09 is sampled at the centres converted to it."""
    lat, lng = base.centers
    glat, glng = crs_mod.from_wgs84(lat, lng, grid.attrs.get("crs", "wgs84"))
    values = grid.interp(lat=xr.DataArray(glat, dims="cell"),
                         lng=xr.DataArray(glng, dims="cell")).values.astype(float)
    has = np.isfinite(values)
    if not has.any():
        raise TwinInputError(source, "the elevation grid does not cover the boundary: give a "
                                     "grid that overlaps the city")
    report = {"source": source, "kind": "grid", "shape": list(grid.shape),
              "filled_cells": int((~has).sum())}
    return _fill_nearest(values, has, lat, lng), report


def _facilities(place: _Placer, facilities: gpd.GeoDataFrame, source: str) -> tuple:
    """The registry with each facility's `cell`; facilities outside the boundary are left out
    of the registry and listed in the report."""
    pos = place.place(*_lat_lng(facilities))
    ok = pos >= 0
    table = facilities[ok].copy()
    table["cell"] = place.base.cell_ids[pos[ok]].astype(np.uint64)
    table = table.reset_index(drop=True)
    ids = facilities["id"].astype(str) if "id" in facilities else pd.Series(
        [str(i) for i in facilities.index])
    report = {"source": source, "kind": "points", "features": int(len(facilities)),
              "outside": int((~ok).sum()), "outside_ids": ids[~ok].tolist()}
    return table, report


def _warnings(report: dict) -> list[str]:
    """One line per input with points outside the boundary."""
    lines = []
    for role in ("population", "elevation", "facilities"):
        part = report.get(role)
        if not part or not part.get("outside"):
            continue
        kind = "polygons" if part["kind"] == "polygons" else "points"
        line = (f"{part['source']}: {part['outside']} of {part['features']} {kind} lie outside "
                f"the boundary")
        if role == "population":
            line += f"; {part['outside_count']:,.0f} residents outside it were not counted"
        elif role == "facilities":
            line += f" and were left out: {', '.join(part['outside_ids'][:10])}"
        else:
            line += " and were not used"
        lines.append(line)
    if report.get("population", {}).get("kind") == "polygons":
        part = report["population"]
        if not part["outside"] and part["outside_count"] >= 0.5:
            lines.append(f"{part['source']}: {part['outside_count']:,.0f} residents of polygons "
                         f"reaching past the boundary were not counted")
    return lines


# -- entry points -------------------------------------------------------------------------------
def build_twin(boundary: gpd.GeoDataFrame, *, resolution: int,
               units: gpd.GeoDataFrame | None = None,
               population: pd.DataFrame | gpd.GeoDataFrame | None = None,
               elevation: pd.DataFrame | xr.DataArray | None = None,
               facilities: gpd.GeoDataFrame | None = None, name: str = "twin",
               sources: dict[str, str] | None = None,
               grid_target: float = GRID_TARGET,
               timezone: str = "Asia/Shanghai",
               max_cells: int | None = None) -> tuple[Twin, dict]:
    """A twin on the cells of `boundary` (EPSG:4326 polygons), and a report of what was placed.

    population: points (`lat, lng, count` DataFrame) or polygons with a `count` column.
    elevation: points (`lat, lng, elevation_m`) or a 2-D DataArray on `lat`, `lng`.
    facilities: points with `id`, `name`, `kind` (+ `capacity`) columns.
    timezone: the city's IANA time zone, kept in the manifest for every clock the product shows.
    sources: how each input is named in errors and the report (file paths from the CLI).
    max_cells: refuse (before any work) a resolution that would make more cells than this
    (default `twin.settings.max_cells()`).
    With `units`, each cell gets the unit holding its centre and units are split into
    governance grids of about `grid_target` residents (`twin.grids.partition_grids`).
    """
    src = {role: role for role in ("boundary", "units", "population", "elevation", "facilities")}
    src.update(sources or {})
    resolution = check_resolution(resolution)
    outline = shapely.union_all(boundary.geometry.values)
    check_size(outline, resolution, _max_cells(max_cells))
    ids = _cells(boundary, resolution, src["boundary"])
    base = Twin(cells_dataset(ids, resolution, name=name))
    place = _Placer(base, outline)
    report: dict = {"cells": int(len(ids))}
    variables: dict = {"is_land": True}
    registries: dict = {}
    if population is not None:
        spread = _population_polygons if isinstance(population, gpd.GeoDataFrame) and \
            population.geometry.geom_type.isin(readers.POLYGONAL).all() else _population_points
        variables["population"], report["population"] = spread(place, population,
                                                               src["population"])
    if elevation is not None:
        if isinstance(elevation, xr.DataArray):
            values, report["elevation"] = _elevation_grid(base, elevation, src["elevation"])
        else:
            values, report["elevation"] = _elevation_points(place, elevation, src["elevation"])
        variables["elevation_m"] = values
    if facilities is not None:
        registries["facilities"], report["facilities"] = _facilities(place, facilities,
                                                                     src["facilities"])
    if units is not None:
        people = variables.get("population", np.zeros(len(ids)))
        variables["unit"], variables["grid"], report["units"] = _units_and_grids(
            base, units, people, grid_target, src["units"])
        registries["units"] = _units_registry(units)
        registries["grids"] = grids_registry(ids, variables["grid"], variables["unit"], people)
    report["warnings"] = _warnings(report)
    meta = {"name": name, "source": "cityops twin build", "timezone": timezone,
            "build": {"resolution": resolution, "inputs": {k: v for k, v in src.items()
                                                           if k == "boundary" or k in report},
                      "grid_target": float(grid_target), "report": report}}
    ds = cells_dataset(ids, resolution, name=name, **variables)
    return Twin(ds, meta=meta, **registries), report


def build_from_files(boundary: str | os.PathLike, *, resolution: int,
                     units: str | os.PathLike | None = None,
                     population: str | os.PathLike | None = None,
                     elevation: str | os.PathLike | None = None,
                     facilities: str | os.PathLike | None = None,
                     name: str | None = None, crs: str = "wgs84",
                     timezone: str = "Asia/Shanghai") -> tuple[Twin, dict]:
    """Read and check the input files, then `build_twin`; the twin is named after the boundary
    file unless `name` is given. `crs` (wgs84, gcj02, bd09) is the coordinate system of every
    input file; the twin is always WGS-84. Bad input raises `TwinInputError` naming the file."""
    resolution = check_resolution(resolution)
    crs = readers.check_crs(crs)
    try:
        settings.timezone(timezone)
    except ValueError as exc:
        raise TwinInputError("--timezone", str(exc)) from exc
    paths = {"boundary": boundary, "units": units, "population": population,
             "elevation": elevation, "facilities": facilities}
    sources = {role: str(path) for role, path in paths.items() if path is not None}
    polygons = readers.read_polygons(boundary, crs)
    check_size(shapely.union_all(polygons.geometry.values), resolution, _max_cells(None))
    data = {
        "boundary": polygons,
        "units": readers.read_polygons(units, crs) if units is not None else None,
        "population": readers.read_population(population, crs) if population else None,
        "elevation": readers.read_elevation(elevation, crs) if elevation else None,
        "facilities": readers.read_facilities(facilities, crs) if facilities else None,
    }
    twin, report = build_twin(data.pop("boundary"), resolution=resolution, **data,
                              sources=sources, name=name or Path(boundary).stem,
                              timezone=timezone)
    twin.meta["build"]["input_crs"] = crs
    return twin, report
