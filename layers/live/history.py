"""Per-minute history of the live layers: netCDF files on disk (and the minutes kept in Redis).

Each closed minute is one file `{minute}.nc` (minute = epoch seconds // 60) holding the sparse
minute bucket; `cells.nc` holds the twin's cell ids once. `load` turns any range back into an
xarray Dataset `time x cell` with one variable per requested layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from layers.live import schema as S
from layers.live.state import LiveState, Sparse, layer_values

KEEP_MINUTES = 2 * 1440
_FIELDS = ("si", "sv", "mi", "mv", "li", "lt", "lv")


def _write(ds: xr.Dataset, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    ds.to_netcdf(tmp, engine="netcdf4")
    os.replace(tmp, path)


def write_minute(folder: Path, minute: int, bucket: Sparse, cell_ids: np.ndarray) -> None:
    """Write (or rewrite) one minute's bucket; prune files past the retention."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells_path = folder / "cells.nc"
    if not cells_path.exists():
        _write(xr.Dataset(coords={"cell_ids": ("cell", np.asarray(cell_ids, np.uint64))},
                          attrs={"grid_name": "h3"}), cells_path)
    data = {f: (f"n_{f[0]}", getattr(bucket, f)) for f in _FIELDS}
    _write(xr.Dataset(data, attrs={"minute": int(minute), "signature": S.signature()}),
           folder / f"{int(minute)}.nc")
    for old in folder.glob("*.nc"):
        if old.stem.isdigit() and int(old.stem) < minute - KEEP_MINUTES:
            old.unlink(missing_ok=True)


def sync(folder: Path, state: LiveState, cell_ids: np.ndarray) -> None:
    """Write the closed minutes that have no file yet (after a crash between checkpoint and write)."""
    folder = Path(folder)
    for m, bucket in state.closed.items():
        if not (folder / f"{m}.nc").exists():
            write_minute(folder, m, bucket, cell_ids)


def _read_file(path: Path) -> Sparse:
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return Sparse(*(ds[f].values.astype(np.int64 if f.endswith("i") else np.float64)
                        for f in _FIELDS))


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
    data = {name: np.zeros((len(minutes), n), np.float32) for name in names}
    for name in names:
        if not name.endswith(".count"):
            data[name][:] = np.nan
    offset = 0
    for ids, buckets in blocks:  # each ingest partition: a contiguous block of the cells
        k = len(ids)
        for t, bucket in enumerate(buckets):
            if bucket is not None:
                for name, arr in layer_values(bucket, k, names).items():
                    data[name][t, offset:offset + k] = arr
        offset += k
    time_index = pd.to_datetime(np.array(minutes, dtype=np.int64) * 60, unit="s")
    cell_coord = xr.Variable("cell", cell_ids, attrs={"grid_name": "h3"})
    return xr.Dataset({name: (("time", "cell"), arr) for name, arr in data.items()},
                      coords={"time": time_index, "cell_ids": cell_coord})


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
        with xr.open_dataset(f / "cells.nc", engine="netcdf4") as ds:
            ids = ds["cell_ids"].values.astype(np.uint64)
        out.append((ids, [_read_file(f / f"{m}.nc") if (f / f"{m}.nc").exists() else None
                          for m in minutes]))
    return sorted(out, key=lambda block: int(block[0][0]) if len(block[0]) else 0)
