"""netCDF that outside tools read: the ONE writer and reader of every cell Dataset on disk.

The twin (`cells.nc`), scenario results (`sim.runner.Result`) and the live layers' history all
go through `write`, so each file follows the same two conventions:

- xdggs: `cell_ids` (uint64) carries exactly `grid_name="h3"` and `level=R`, so
  `xdggs.decode(ds)` indexes it (xdggs refuses any other attribute there, `long_name` too);
- CF-1.10: `Conventions`, UDUNITS units (counts of people or vehicles become `1` or a rate such
  as `h-1`, named in `long_name`), `time` as `seconds since <ISO start>` without a fill value,
  `flag_meanings` made of valid tokens, and `lat`/`lon` cell-centre auxiliary coordinates with
  `bounds` (the hexagon vertices) so Panoply, QGIS or GDAL place each cell.

`read` undoes what only the file needs (the auxiliary coordinates, token-safe flag meanings),
so a Dataset read back is the one that was written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from twin import cells as h3cells

CONVENTIONS = "CF-1.10"
AUXILIARY = ("lat", "lon", "lat_bounds", "lon_bounds")
FLAG_LABELS = "cityops_flag_labels"  # the flag meanings as the code names them (restored by read)
TIME_ORIGIN = "time_origin"          # the start of a relative time axis (seconds from it)

# units that UDUNITS does not know -> (its spelling, what is counted, for long_name)
UNITS = {"persons": ("1", "persons"), "people": ("1", "persons"), "person": ("1", "persons"),
         "vehicles": ("1", "vehicles"), "vehicles/h": ("h-1", "vehicles per hour"),
         "persons/h": ("h-1", "persons per hour"), "persons/s": ("s-1", "persons per second"),
         "people/s": ("s-1", "persons per second"), "persons/day": ("d-1", "persons per day"),
         "people/day": ("d-1", "persons per day"), "count": ("1", "count"),
         "events": ("1", "events")}
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_.+@-]")


def grid_attrs(level: int) -> dict:
    """The xdggs attributes of `cell_ids`: exactly these, nothing else."""
    return {"grid_name": "h3", "level": int(level)}


def flag_token(label: str) -> str:
    """A label as a CF flag_meanings token ('ponding>=0.15m' -> 'ponding_ge_0.15m')."""
    text = str(label).replace(">=", "_ge_").replace("<=", "_le_").replace(">", "_gt_")
    text = text.replace("<", "_lt_").replace("%", "pct")
    return _TOKEN_BAD.sub("_", text).strip("_") or "flag"


def _iso(ts: pd.Timestamp) -> str:
    ts = ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cf_attrs(name: str, attrs: dict) -> dict:
    attrs = dict(attrs)
    if "long_name" not in attrs and "standard_name" not in attrs:
        attrs["long_name"] = str(name).replace("_", " ")
    units = attrs.get("units")
    if isinstance(units, str) and units in UNITS:
        attrs["units"], what = UNITS[units]
        name = attrs.get("long_name", "")
        if what not in name:
            attrs["long_name"] = f"{name} ({what})" if name else what
    meanings = attrs.get("flag_meanings")
    if isinstance(meanings, str):
        tokens = [flag_token(w) for w in meanings.split()]
        if tokens != meanings.split():
            attrs[FLAG_LABELS] = meanings
            attrs["flag_meanings"] = " ".join(tokens)
    return attrs


def _global_attrs(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, dict | list | tuple) and not isinstance(value, np.ndarray):
            value = json.dumps(value, ensure_ascii=False, default=str)
        elif isinstance(value, bool | np.bool_):
            value = int(value)
        out[key] = value
    out["Conventions"] = CONVENTIONS
    return out


def _time(ds: xr.Dataset, origin: float | str | None, encoding: dict) -> xr.Dataset:
    """`time` as seconds since an ISO start, no fill value (absolute or relative time)."""
    if "time" not in ds.coords and "time" not in ds:
        return ds
    values = ds["time"].values
    attrs = {k: v for k, v in ds["time"].attrs.items() if k not in ("units", "calendar")}
    attrs.update(standard_name="time", long_name=attrs.get("long_name", "time"), axis="T")
    if np.issubdtype(values.dtype, np.datetime64):
        start = pd.Timestamp(values.min()) if len(values) else pd.Timestamp(0)
        encoding["time"] = {"units": f"seconds since {_iso(start)}", "calendar": "standard",
                            "dtype": "float64", "_FillValue": None}
        return ds.assign_coords(time=("time", values, attrs))
    if origin is None:
        origin = ds.attrs.get(TIME_ORIGIN) or dt.datetime.now(dt.UTC).timestamp()
    start = pd.Timestamp(origin, unit="s") if isinstance(origin, int | float) else \
        pd.Timestamp(origin)
    attrs.update(units=f"seconds since {_iso(start)}", calendar="standard")
    encoding["time"] = {"dtype": "float64", "_FillValue": None}
    return ds.assign_coords(time=("time", values.astype(np.float64), attrs))


def _auxiliary(ds: xr.Dataset, encoding: dict) -> xr.Dataset:
    """lat/lon of the cell centres and, as their bounds, of the hexagon vertices."""
    ids = ds["cell_ids"].values.astype(np.uint64)
    lat, lon = h3cells.cell_centers(ids)
    vlat, vlon = h3cells.cell_vertices(ids)
    ds = ds.drop_vars([v for v in AUXILIARY if v in ds.variables])
    ds = ds.assign_coords(
        lat=("cell", lat, {"standard_name": "latitude", "long_name": "cell centre latitude",
                           "units": "degrees_north", "bounds": "lat_bounds"}),
        lon=("cell", lon, {"standard_name": "longitude", "long_name": "cell centre longitude",
                           "units": "degrees_east", "bounds": "lon_bounds"}))
    ds["lat_bounds"] = (("cell", "nv"), vlat)
    ds["lon_bounds"] = (("cell", "nv"), vlon)
    for name in AUXILIARY:
        encoding[name] = {"_FillValue": None}
    return ds


def prepare(ds: xr.Dataset, *, time_origin: float | str | None = None
            ) -> tuple[xr.Dataset, dict]:
    """The Dataset as it goes to disk (CF-1.10 + xdggs) and its netCDF encoding.

    `time_origin` (epoch seconds or ISO) starts a relative `time` axis held in seconds (a
    scenario's); default `ds.attrs['time_origin']`, else now. Absolute times start at the first.
    """
    if "cell_ids" not in ds.coords:
        raise ValueError("a cell Dataset needs the coordinate cell_ids (uint64 H3 indexes)")
    encoding: dict = {}
    ids = ds["cell_ids"]
    level = ids.attrs.get("level", ids.attrs.get("resolution"))
    if level is None:
        levels = h3cells.resolutions(ids.values)
        level = int(levels[0]) if len(levels) else 0
    out = ds.copy()
    out = out.assign_coords(cell_ids=(ids.dims, ids.values.astype(np.uint64),
                                      grid_attrs(int(level))))
    encoding["cell_ids"] = {"_FillValue": None}
    for name in list(out.variables):
        if name == "cell_ids":
            continue
        out[name].attrs = _cf_attrs(str(name), out[name].attrs)
    out = _time(out, time_origin, encoding)
    out = _auxiliary(out, encoding)
    out.attrs = _global_attrs(out.attrs)
    return out, encoding


def write(ds: xr.Dataset, path: str | os.PathLike, *, time_origin: float | str | None = None,
          compress: bool = False) -> Path:
    """Write a cell Dataset as CF-1.10 + xdggs netCDF4, atomically (a temporary file, renamed).

    `compress` deflates the data variables (level 4, with shuffle): for sparse per-minute data.
    """
    path = Path(path)
    out, encoding = prepare(ds, time_origin=time_origin)
    if compress:
        for name in out.data_vars:
            if out[name].dtype.kind in "fiu" and name not in AUXILIARY:
                encoding.setdefault(name, {}).update(zlib=True, complevel=4, shuffle=True)
    tmp = path.with_name(f".{path.name}.tmp")
    out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    os.replace(tmp, path)
    return path


def read(path: str | os.PathLike, *, relative_time: bool = False) -> xr.Dataset:
    """A cell Dataset written by `write`, loaded, without what only the file needed.

    `relative_time`: keep `time` in seconds from the start (units `s`; the start in
    `attrs['time_origin']`), as scenario results hold it; else times are datetimes.
    """
    with xr.open_dataset(path, engine="netcdf4", decode_times=not relative_time) as f:
        ds = f.load()
    ds = ds.drop_vars([v for v in AUXILIARY if v in ds.variables])
    for name in ds.variables:
        attrs = ds[name].attrs
        if FLAG_LABELS in attrs:
            attrs["flag_meanings"] = attrs.pop(FLAG_LABELS)
    if relative_time and "time" in ds.variables:
        units = str(ds["time"].attrs.get("units", ""))
        if units.startswith("seconds since "):
            ds.attrs[TIME_ORIGIN] = units.removeprefix("seconds since ")
            ds["time"].attrs["units"] = "s"
    return ds
