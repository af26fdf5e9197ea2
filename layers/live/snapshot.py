"""Live-layer snapshots in Redis: one float32 array per layer and window, in the twin's cell order.

`SnapshotStore` owns the key family `snap:*` (see layers.keys): `snap:{window}:{layer}` (float32
bytes, NaN = no reading), `snap:cells` (uint64 cell ids), `snap:meta` (version, time), and the
stream `snap:changes` (one entry per version: the changed layers and the positions of the
changed cells), so a reader learns what changed since its last version with one XRANGE.
`Publisher` (the ingest worker's) queues its writes through the store into the worker's
checkpoint transaction.
"""

from __future__ import annotations

import json
import time

import numpy as np

from layers.live import schema as S
from layers.live.bus import Bus
from layers.live.state import LiveState, layer_values
from twin import cells as h3cells

CHANGES_KEPT = 1000
BLOCK = 1024  # cells per partial write (SETRANGE) of a layer


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


class Publisher:
    """Writes changed layers into a pipeline and remembers what it last wrote.

    Only the cells touched since the last publish are recomputed, except after a clock tick,
    a late event or a restart, when every cell is.
    """

    def __init__(self, bus: Bus, cell_ids: np.ndarray, version: int = 0,
                 interval_s: float = 1.0) -> None:
        self.store = SnapshotStore(bus)
        self.cell_ids = cell_ids
        self.version = version
        self.interval_s = interval_s
        self.prev: dict[tuple[str, str], np.ndarray] = {}
        self.written: set[tuple[str, str]] = set()  # keys this publisher wrote in full
        self._last = -np.inf

    def _write(self, pipe, name: str, key: tuple[str, str], where: np.ndarray) -> None:
        """Write a changed layer: only the changed blocks of cells when they are few."""
        arr = self.prev[key]
        blocks = np.unique(where // BLOCK)
        if key not in self.written or len(blocks) * BLOCK * 2 > len(arr):
            pipe.set(name, arr.tobytes())
            self.written.add(key)
            return
        for b in blocks.tolist():
            pipe.setrange(name, b * BLOCK * 4, arr[b * BLOCK:(b + 1) * BLOCK].tobytes())

    def publish(self, pipe, state: LiveState, now: float, force: bool = False) -> bool:
        """Queue the writes of every layer that changed; True if a new version was made."""
        if not force and time.monotonic() - self._last < self.interval_s:
            return False
        self._last = time.monotonic()
        n = len(self.cell_ids)
        full = state.full or not self.prev
        cells = None if full else np.flatnonzero(state.touched)
        state.touched[:] = False
        state.full = False
        if cells is not None and not len(cells):
            self.store.queue_time(pipe, now)
            return False
        k = n if cells is None else len(cells)
        changed = np.zeros(n, dtype=bool)
        changed_layers = []
        recent = state.open_total(cells)
        for window in S.WINDOWS:
            values = layer_values(state.window(window, cells, recent), k)
            for layer, arr in values.items():
                key = (window, layer)
                prev = self.prev.get(key)
                name = self.store.keys.snap(window, layer)
                if prev is None:
                    self.prev[key] = arr
                    changed[:] = True
                    if not (np.nan_to_num(arr) != 0).any():  # empty: readers fill in
                        pipe.delete(name)
                        continue
                    pipe.set(name, arr.tobytes())
                    self.written.add(key)
                else:
                    diff = ~_same(arr, prev if cells is None else prev[cells])
                    if not diff.any():
                        continue
                    where = np.flatnonzero(diff) if cells is None else cells[diff]
                    if cells is None:
                        self.prev[key] = arr
                    else:
                        prev[cells] = arr
                    changed[where] = True
                    self._write(pipe, name, key, where)
                changed_layers.append(f"{window}/{layer}")
        if not changed_layers:
            self.store.queue_time(pipe, now)
            return False
        self.version += 1
        self.store.queue_version(pipe, self.version, now, n, self.cell_ids if (
            self.version == 1 or full) else None, changed_layers, np.flatnonzero(changed))
        return True


class SnapshotStore:
    """Reads and writes the snapshot keys of one bus (`snap:*`)."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys

    def queue_time(self, pipe, now: float) -> None:
        pipe.hset(self.keys.snap_meta, "time", repr(now))

    def queue_version(self, pipe, version: int, now: float, n_cells: int,
                      cell_ids: np.ndarray | None, changed_layers: list[str],
                      changed_cells: np.ndarray) -> None:
        """Queue a new version's metadata and change-log entry (the layer arrays are queued
        by the publisher itself, block by block)."""
        if cell_ids is not None:
            pipe.set(self.keys.snap_cells, np.asarray(cell_ids, np.uint64).tobytes())
        pipe.hset(self.keys.snap_meta, mapping={
            "version": version, "time": repr(now), "n_cells": n_cells,
            "windows": json.dumps(list(S.WINDOWS)), "layers": json.dumps(S.LAYERS)})
        pipe.xadd(self.keys.snap_changes,
                  {"version": version, "layers": json.dumps(changed_layers),
                   "cells": changed_cells.astype(np.int32).tobytes()},
                  maxlen=CHANGES_KEPT, approximate=True)

    def n_cells(self) -> int:
        return int(self.redis.hget(self.keys.snap_meta, "n_cells") or 0)

    def read(self, layer: str, window: str = "1h") -> np.ndarray:
        """One layer for all cells (float32, twin cell order; NaN = no reading); empty if none."""
        S.check_layer(layer)
        S.check_window(window)
        blob = self.redis.get(self.keys.snap(window, layer))
        if blob is None:
            return np.full(self.n_cells(), 0.0 if layer.endswith(".count") else np.nan,
                           dtype=np.float32)
        return np.frombuffer(blob, dtype=np.float32)

    def read_range(self, layers: list[str], window: str, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Layers for the cell positions lo..hi (inclusive) only: a few bytes of each array."""
        n = self.n_cells()
        pipe = self.redis.pipeline(transaction=False)
        for layer in layers:
            pipe.getrange(self.keys.snap(window, S.check_layer(layer)), lo * 4, hi * 4 + 3)
        out = {}
        for layer, blob in zip(layers, pipe.execute(), strict=True):
            if blob:
                out[layer] = np.frombuffer(blob, dtype=np.float32)
            else:
                fill = 0.0 if layer.endswith(".count") else np.nan
                out[layer] = np.full(max(0, min(hi, n - 1) - lo + 1), fill, dtype=np.float32)
        return out

    def version(self) -> int:
        """The current snapshot version (0 before the first publish)."""
        return int(self.redis.hget(self.keys.snap_meta, "version") or 0)

    def time(self) -> float | None:
        raw = self.redis.hget(self.keys.snap_meta, "time")
        return float(raw) if raw else None

    def cells(self) -> np.ndarray:
        """The uint64 cell ids the snapshot arrays are indexed by."""
        blob = self.redis.get(self.keys.snap_cells)
        return np.frombuffer(blob, dtype=np.uint64) if blob else np.zeros(0, np.uint64)

    def changes_since(self, since: int) -> tuple[int, np.ndarray | None, set[str]]:
        """(current version, positions of cells changed after `since`, changed `window/layer`s).

        Positions are None when `since` is older than the kept change log: read everything.
        """
        current = self.version()
        if since >= current:
            return current, np.zeros(0, np.int32), set()
        entries = self.redis.xrange(self.keys.snap_changes)
        versions = [int(f[b"version"]) for _, f in entries]
        if not versions or min(versions) > since + 1:
            return current, None, set(S.LAYERS)
        cells_, layers = [], set()
        for (_, f), v in zip(entries, versions, strict=True):
            if v > since:
                cells_.append(np.frombuffer(f[b"cells"], dtype=np.int32))
                layers.update(json.loads(f[b"layers"]))
        changed = np.unique(np.concatenate(cells_)) if cells_ else np.zeros(0, np.int32)
        return current, changed, layers

    def dump(self, layer: str, window: str) -> dict[str, float]:
        """{hex cell: value} for every cell with a non-zero reading of the layer."""
        values = self.read(layer, window)
        ids = self.cells()
        keep = np.flatnonzero(~np.isnan(values) & (values != 0)) if len(ids) else np.zeros(0, int)
        return dict(zip(h3cells.to_hex(ids[keep]), values[keep].astype(float).tolist(),
                        strict=True))

    def clear(self) -> None:
        """Delete every snapshot key of this prefix."""
        names = [self.keys.snap_cells, self.keys.snap_meta, self.keys.snap_changes]
        names += list(self.redis.scan_iter(match=self.keys.every("snap:{window}:{layer}")))
        self.redis.delete(*names)


def read(bus: Bus, layer: str, window: str = "1h") -> np.ndarray:
    """One layer for all cells (see `SnapshotStore.read`)."""
    return SnapshotStore(bus).read(layer, window)


def version(bus: Bus) -> int:
    """The current snapshot version (see `SnapshotStore.version`)."""
    return SnapshotStore(bus).version()


def cells(bus: Bus) -> np.ndarray:
    """The snapshot's cell ids (see `SnapshotStore.cells`)."""
    return SnapshotStore(bus).cells()


def changes_since(bus: Bus, since: int) -> tuple[int, np.ndarray | None, set[str]]:
    """What changed after a version (see `SnapshotStore.changes_since`)."""
    return SnapshotStore(bus).changes_since(since)
