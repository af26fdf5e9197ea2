"""Per-minute history of the live layers: netCDF files on disk (and the minutes kept in Redis).

Each closed minute is one file `{minute}.nc` (minute = epoch seconds // 60): a CF-1.10 / xdggs
`time x cell` Dataset (one time step) with one variable per layer over the cells that had
events in that minute, written by `twin.netcdf` so xdggs, Panoply or QGIS open it as it is.
`cells.nc` holds the twin's cell ids. `load` turns any range back into one `time x cell`
Dataset over every cell, and `export` writes such a range as one file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from layers.live import schema as S
from layers.live.state import LiveState, Sparse, layer_values
from twin import netcdf
from twin.cells import resolutions

KEEP_MINUTES = 2 * 1440


def _cells_touched(bucket: Sparse, n: int) -> np.ndarray:
    """Positions of the cells a minute's bucket holds anything for, sorted."""
    flat = np.concatenate([bucket.si, bucket.mi, bucket.li]).astype(np.int64)
    return np.unique(flat % n) if n else flat


def minute_dataset(minute: int, bucket: Sparse, cell_ids: np.ndarray,
                   layers: list[str] | None = None) -> xr.Dataset:
    """One minute as a `time x cell` Dataset over the cells that had events in it."""
    cell_ids = np.asarray(cell_ids, np.uint64)
    names = layers or S.LAYERS
    keep = _cells_touched(bucket, len(cell_ids))
    values = layer_values(bucket, len(cell_ids), names)
    data = {S.layer_variable(name): (("time", "cell"), values[name][keep][None, :],
                                     S.layer_attrs(name)) for name in names}
    time = pd.to_datetime([int(minute) * 60], unit="s")
    return xr.Dataset(data, coords={"time": time, "cell_ids": ("cell", cell_ids[keep])},
                      attrs={"minute": int(minute), "signature": S.signature()})


def write_minute(folder: Path, minute: int, bucket: Sparse, cell_ids: np.ndarray) -> None:
    """Write (or rewrite) one minute's file; prune files past the retention."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells_path = folder / "cells.nc"
    if not cells_path.exists():
        cells = xr.Dataset(coords={"cell_ids": ("cell", np.asarray(cell_ids, np.uint64))})
        netcdf.write(cells, cells_path)
    netcdf.write(minute_dataset(minute, bucket, cell_ids), folder / f"{int(minute)}.nc",
                 compress=True)
    for old in folder.glob("*.nc"):
        if old.stem.isdigit() and int(old.stem) < minute - KEEP_MINUTES:
            old.unlink(missing_ok=True)


def sync(folder: Path, state: LiveState, cell_ids: np.ndarray) -> None:
    """Write the closed minutes that have no file yet (after a crash between checkpoint and write)."""
    folder = Path(folder)
    for m, bucket in state.closed.items():
        if not (folder / f"{m}.nc").exists():
            write_minute(folder, m, bucket, cell_ids)


def _read_file(path: Path, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A minute file: the cell ids it holds and each layer's values on them."""
    ds = netcdf.read(path)
    held = ds["cell_ids"].values.astype(np.uint64)
    out = {}
    for name in names:
        var = S.layer_variable(name)
        if var in ds:
            out[name] = ds[var].values[0].astype(np.float32)
    return held, out


def _minute(t) -> int:
    if isinstance(t, int | float | np.integer | np.floating):
        return int(t // 60)
    ts = pd.Timestamp(t)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.value // 60_000_000_000)


def load(source, start, end, layers: list[str] | None = None) -> xr.Dataset:
    """Per-minute layer values between `start` and `end` (inclusive) as a `time x cell` Dataset.

    `source` is a bus (minutes kept in Redis) or a history folder; `start`/`end` are epoch
    seconds, datetimes or ISO strings; `layers` defaults to every layer.
    """
    names = [S.check_layer(x) for x in (layers or S.LAYERS)]
    m0, m1 = _minute(start), _minute(end)
    if m1 < m0:
        raise ValueError(f"end {end!r} is before start {start!r}: swap them")
    minutes = list(range(m0, m1 + 1))
    blocks = _bus_blocks(source, minutes) if hasattr(source, "keys") else \
        _folder_blocks(Path(source), minutes)
    cell_ids = np.concatenate([ids for ids, _ in blocks]) if blocks else np.zeros(0, np.uint64)
    n = len(cell_ids)
    index = pd.Index(cell_ids)

    def positions(cells: np.ndarray) -> np.ndarray:
        return index.get_indexer(cells)

    data = {name: np.zeros((len(minutes), n), np.float32) for name in names}
    for name in names:
        if not name.endswith(".count"):
            data[name][:] = np.nan
    offset = 0
    for ids, buckets in blocks:  # each ingest partition: a contiguous block of the cells
        k = len(ids)
        for t, bucket in enumerate(buckets):
            if isinstance(bucket, Path):  # a minute file: the cells it holds, by id
                held, values = _read_file(bucket, names)
                pos = positions(held)
                ok = pos >= 0
                for name, arr in values.items():
                    data[name][t, pos[ok]] = arr[ok]
            elif bucket is not None:
                for name, arr in layer_values(bucket, k, names).items():
                    data[name][t, offset:offset + k] = arr
        offset += k
    time_index = pd.to_datetime(np.array(minutes, dtype=np.int64) * 60, unit="s")
    cell_coord = xr.Variable("cell", cell_ids, attrs=netcdf.grid_attrs(_level(cell_ids)))
    return xr.Dataset({name: (("time", "cell"), arr, S.layer_attrs(name))
                       for name, arr in data.items()},
                      coords={"time": time_index, "cell_ids": cell_coord})


def _level(cell_ids: np.ndarray) -> int:
    return int(resolutions(cell_ids[:1])[0]) if len(cell_ids) else 0


def export(source, start, end, path: str | os.PathLike, layers: list[str] | None = None) -> Path:
    """Write the minutes between `start` and `end` as one CF-1.10 / xdggs `time x cell` file
    (layers under netCDF-safe names such as `video__person__count`; `layer` attributes keep
    the dotted names)."""
    ds = load(source, start, end, layers)
    ds = ds.rename({name: S.layer_variable(name) for name in ds.data_vars})
    return netcdf.write(ds, path, compress=True)


def _bus_blocks(bus, minutes: list[int]) -> list[tuple[np.ndarray, list]]:
    """(cell ids, minute buckets) of every ingest partition, from Redis."""
    from layers.live.checkpoint import CheckpointStore
    from layers.live.snapshot import SnapshotStore

    cell_ids = SnapshotStore(bus).cells()
    from layers.live.producer import stored_bounds

    parts = bus.partitions()
    bounds = stored_bounds(bus, len(cell_ids))
    out = []
    for k, p in enumerate(parts):
        blobs = CheckpointStore(bus, p).minutes(minutes)
        out.append((cell_ids[bounds[k]:bounds[k + 1]],
                    [Sparse.from_bytes(b) if b else None for b in blobs]))
    return out


def _folder_blocks(folder: Path, minutes: list[int]) -> list[tuple[np.ndarray, list]]:
    """(cell ids, minute buckets) of a history folder, or of each of its partition folders."""
    folders = sorted(f for f in folder.glob("p*") if (f / "cells.nc").exists()) \
        if not (folder / "cells.nc").exists() else [folder]
    if not folders:
        raise FileNotFoundError(f"{folder} holds no layer history (no cells.nc): pass the "
                                f"folder the ingest worker writes, e.g. bus.history_dir")
    out = []
    for f in folders:
        ids = netcdf.read(f / "cells.nc")["cell_ids"].values.astype(np.uint64)
        out.append((ids, [f / f"{m}.nc" if (f / f"{m}.nc").exists() else None
                          for m in minutes]))
    return sorted(out, key=lambda block: int(block[0][0]) if len(block[0]) else 0)
