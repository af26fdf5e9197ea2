"""The Twin: H3 cells with static attributes plus the registries of the city.

The core data model knows nothing of files or Redis: `twin.io` saves and loads it, `twin.build`
makes one from boundary/population/elevation data, `twin.demo` makes the Binhai demo.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache, cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from twin import cells as h3cells
from twin import crs as crs_mod
from twin.dataset import REGISTRIES

_CHUNK = 100_000  # points per thread below which locating stays on one thread


@cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twin-locate")


STATIC_VARIABLES = ("is_land", "population", "elevation_m", "land_use", "unit", "grid",
                    "road_capacity")


def empty_registry(name: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """An empty registry table of the right kind."""
    if name == "departments":
        return pd.DataFrame({"id": pd.Series(dtype=str), "name": pd.Series(dtype=str)})
    return gpd.GeoDataFrame({"id": pd.Series(dtype=str)}, geometry=gpd.GeoSeries([], crs=4326),
                            crs=4326)


class Twin:
    """A city on H3 cells: `ds` (dim `cell`, coord `cell_ids` uint64 sorted) + registries."""

    def __init__(self, ds: xr.Dataset, meta: dict | None = None, **registries) -> None:
        unknown = set(registries) - set(REGISTRIES)
        if unknown:
            raise TypeError(f"unknown registries {sorted(unknown)}: use {', '.join(REGISTRIES)}")
        ids = ds["cell_ids"].values
        if ids.dtype != np.uint64:
            raise TypeError(f"cell_ids must be uint64, got {ids.dtype}")
        if len(ids) > 1 and not (np.diff(ids.view(np.int64)) > 0).all():
            raise ValueError("cell_ids must be sorted and unique")
        self.ds = ds
        self.meta = dict(meta or {})
        for name in REGISTRIES:
            value = registries.get(name)
            setattr(self, name, empty_registry(name) if value is None else value)

    # -- basic facts ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.ds.sizes["cell"]

    def __repr__(self) -> str:
        return (f"<Twin {self.name!r} res={self.resolution} cells={len(self)} "
                f"population={self.population_total:,.0f}>")

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.ds.attrs.get("name", "twin")))

    @property
    def timezone(self) -> str:
        """The city's IANA time zone (manifest `timezone`; default Asia/Shanghai)."""
        from twin.settings import DEFAULT_TIMEZONE

        return str(self.meta.get("timezone") or DEFAULT_TIMEZONE)

    @property
    def fingerprint(self) -> str:
        """A short hash of the cell ids: state that stores cell positions keeps it, and refuses
        to load on another twin (positions only mean something on the same cells)."""
        import hashlib

        return hashlib.sha1(np.ascontiguousarray(self.cell_ids).tobytes()).hexdigest()[:16]

    @property
    def resolution(self) -> int:
        return int(self.ds["cell_ids"].attrs["level"])

    @property
    def cell_ids(self) -> np.ndarray:
        return self.ds["cell_ids"].values

    @property
    def population_total(self) -> float:
        return float(self.ds["population"].sum()) if "population" in self.ds else 0.0

    crs = crs_mod  # `twin.crs.gcj02_to_wgs84(...)` etc.

    # -- geometry -------------------------------------------------------------------------
    @cached_property
    def neighbors(self) -> np.ndarray:
        """(N, 6) int32 positions of each cell's neighbours, -1 where none."""
        return h3cells.neighbor_table(self.cell_ids)

    @cached_property
    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lng) of each cell centre in degrees."""
        return h3cells.cell_centers(self.cell_ids)

    @cached_property
    def area_m2(self) -> np.ndarray:
        """Area of each cell in square metres."""
        return h3cells.cell_areas_m2(self.cell_ids)

    @cached_property
    def _index(self) -> pd.Index:
        """Hash index of `cell_ids` (a hash lookup is ~4x faster than a binary search)."""
        return pd.Index(self.cell_ids)

    def positions(self, cells: np.ndarray) -> np.ndarray:
        """Positions of uint64 cells in `cell_ids`; -1 for cells not in the twin."""
        cells = np.asarray(cells, dtype=np.uint64)
        return self._index.get_indexer(cells.ravel()).astype(np.int64, copy=False).reshape(
            cells.shape)

    def locate(self, lat, lng, crs: str = "wgs84") -> np.ndarray:
        """Positions (int64) of the cells holding the points; -1 outside the twin or invalid.

        Large inputs are split into chunks indexed on all cores (h3ronpy releases the GIL).
        """
        lat = np.ascontiguousarray(lat, dtype=np.float64)
        lng = np.ascontiguousarray(lng, dtype=np.float64)
        if crs != "wgs84":
            lat, lng = crs_mod.to_wgs84(lat, lng, crs)
        flat_lat, flat_lng = lat.ravel(), lng.ravel()
        n = len(flat_lat)
        workers = min(os.cpu_count() or 1, max(1, n // _CHUNK))
        if workers == 1:
            return self._locate_chunk(flat_lat, flat_lng).reshape(lat.shape)
        bounds = np.linspace(0, n, workers + 1).astype(int)
        out = np.empty(n, dtype=np.int64)

        def run(i: int) -> None:
            sl = slice(bounds[i], bounds[i + 1])
            out[sl] = self._locate_chunk(flat_lat[sl], flat_lng[sl])

        list(_pool(workers).map(run, range(workers)))
        return out.reshape(lat.shape)

    def _locate_chunk(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        return self.positions(h3cells.points_to_cells(lat, lng, self.resolution))

    def cells_in(self, where) -> np.ndarray:
        """Positions of the cells inside a shapely geometry, a unit (id or name) or a grid id."""
        if isinstance(where, shapely.Geometry):
            lat, lng = self.centers
            inside = shapely.contains_xy(where, lng, lat)
            return np.flatnonzero(inside)
        if isinstance(where, str):
            match = self.units[(self.units["name"] == where) | (self.units["id"] == where)
                               | (self.units.get("name_en", self.units["name"]) == where)]
            if match.empty:
                raise KeyError(f"no unit named {where!r}: see twin.units['name']")
            return np.flatnonzero(self.ds["unit"].values == int(match["unit"].iloc[0]))
        if isinstance(where, (int, np.integer)):
            if int(where) in set(self.grids.get("grid", pd.Series(dtype=int)).astype(int)):
                return np.flatnonzero(self.ds["grid"].values == int(where))
            raise KeyError(f"no grid with id {where}: see twin.grids['grid']")
        raise TypeError(f"cells_in takes a shapely geometry, a unit name/id or a grid id, "
                        f"not {type(where).__name__}")

    def rollup(self, values, level: int, how: str = "sum") -> pd.Series:
        """A per-cell array summed ('sum') or averaged ('mean') up to a coarser H3 level."""
        values = np.asarray(values)
        if values.shape != (len(self),):
            raise ValueError(f"values must have one entry per cell ({len(self)}), got {values.shape}")
        if not 0 <= level <= self.resolution:
            raise ValueError(f"level must be between 0 and the twin's resolution {self.resolution}")
        parent = h3cells.parents(self.cell_ids, level)
        keys, inverse = np.unique(parent, return_inverse=True)
        total = np.bincount(inverse, weights=values.astype(float), minlength=len(keys))
        if how == "mean":
            total = total / np.bincount(inverse, minlength=len(keys))
        elif how != "sum":
            raise ValueError(f"how must be 'sum' or 'mean', not {how!r}")
        return pd.Series(total, index=pd.Index(keys, name="cell_ids"), name=how)

    def to_geodataframe(self, variables=None) -> gpd.GeoDataFrame:
        """Cell polygons with the chosen variables (all static ones by default) and hex ids."""
        names = list(variables) if variables is not None else [
            v for v in STATIC_VARIABLES if v in self.ds]
        missing = [v for v in names if v not in self.ds]
        if missing:
            raise KeyError(f"unknown variables {missing}: choose from {sorted(self.ds.data_vars)}")
        data = {"cell": h3cells.to_hex(self.cell_ids)}
        data.update({v: self.ds[v].values for v in names})
        return gpd.GeoDataFrame(data, geometry=h3cells.cell_polygons(self.cell_ids), crs=4326)

    def save(self, folder) -> None:
        """Write the twin to a folder (`cells.nc` + GeoParquet registries + `twin.json`)."""
        from twin import io

        io.save(self, folder)

    @staticmethod
    def load(folder) -> Twin:
        """Read a twin folder written by `save`."""
        from twin import io

        ds, meta, registries = io.load(folder)
        return Twin(ds, meta=meta, **registries)

    def summary(self) -> dict:
        """The figures `cityops twin info` prints."""
        out = {"name": self.name, "resolution": self.resolution, "cells": len(self),
               "land_cells": int(self.ds["is_land"].sum()) if "is_land" in self.ds else len(self),
               "population": round(self.population_total)}
        out.update({name: len(getattr(self, name)) for name in REGISTRIES})
        return out
