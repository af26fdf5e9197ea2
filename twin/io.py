"""A twin as a folder: `cells.nc` (netCDF4, CF-1.10 + xdggs) + one GeoParquet per registry with
geometry (`departments.parquet`, which has none, is plain Parquet) + `twin.json`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import xarray as xr

from twin import netcdf
from twin.dataset import REGISTRIES, TABLES

FORMAT_VERSION = 1
MANIFEST = "twin.json"
CELLS = "cells.nc"


def save(twin, folder: str | os.PathLike) -> Path:
    """Write the twin to `folder` (created if needed); files are replaced atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    netcdf.write(twin.ds, folder / CELLS)
    for name in REGISTRIES:
        table = getattr(twin, name)
        path = folder / f"{name}.parquet"
        if name in TABLES:  # no geometry: plain Parquet
            pd.DataFrame(table.drop(columns="geometry", errors="ignore")).to_parquet(
                path, index=False)
        else:
            gpd.GeoDataFrame(table).to_parquet(path, index=False)
    manifest = {"format_version": FORMAT_VERSION, "name": twin.name,
                "resolution": twin.resolution, "crs": "EPSG:4326", "cells": len(twin),
                "registries": list(REGISTRIES), **{k: v for k, v in twin.meta.items()
                                                     if k not in ("name",)}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False,
                                              default=str) + "\n", encoding="utf-8")
    return folder


def load(folder: str | os.PathLike) -> tuple[xr.Dataset, dict, dict]:
    """Read a twin folder written by `save`: (cells dataset, manifest meta, registries)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{folder}: not a twin folder (no {MANIFEST}); "
                                f"build one with `cityops twin build`")
    meta = json.loads(manifest_path.read_text(encoding="utf-8"))
    for key in ("format_version", "crs", "cells", "registries", "resolution"):
        meta.pop(key, None)
    ds = netcdf.read(folder / CELLS)
    registries = {}
    for name in REGISTRIES:
        path = folder / f"{name}.parquet"
        if not path.exists():
            continue
        registries[name] = pd.read_parquet(path) if name in TABLES else gpd.read_parquet(path)
    return ds, meta, registries
