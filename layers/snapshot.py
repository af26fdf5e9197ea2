"""Live-layer snapshots in Redis: one float32 array per layer and window, in the twin's cell order.

Keys (all under the bus prefix): `snap:{window}:{layer}` (float32 bytes, NaN = no reading),
`snap:cells` (uint64 cell ids), `snap:meta` (version, time), and the stream `snap:changes`
(one entry per version: the changed layers and the positions of the changed cells), so a
reader learns what changed since its last version with one XRANGE.
"""

from __future__ import annotations

import json
import time

import numpy as np

from layers import schema as S
from layers.bus import Bus
from layers.state import LiveState, layer_values

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
        self.bus = bus
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
            pipe.hset(self.bus.key("snap:meta"), "time", repr(now))
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
                name = self.bus.key(f"snap:{window}:{layer}")
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
            pipe.hset(self.bus.key("snap:meta"), "time", repr(now))
            return False
        if self.version == 0 or full:
            pipe.set(self.bus.key("snap:cells"), self.cell_ids.astype(np.uint64).tobytes())
        self.version += 1
        pipe.hset(self.bus.key("snap:meta"), mapping={
            "version": self.version, "time": repr(now), "n_cells": n,
            "windows": json.dumps(list(S.WINDOWS)), "layers": json.dumps(S.LAYERS)})
        pipe.xadd(self.bus.key("snap:changes"),
                  {"version": self.version, "layers": json.dumps(changed_layers),
                   "cells": np.flatnonzero(changed).astype(np.int32).tobytes()},
                  maxlen=CHANGES_KEPT, approximate=True)
        return True


def read(bus: Bus, layer: str, window: str = "1h") -> np.ndarray:
    """One layer for all cells (float32, twin cell order; NaN = no reading); empty if none yet."""
    S.check_layer(layer)
    S.check_window(window)
    blob = bus.r.get(bus.key(f"snap:{window}:{layer}"))
    if blob is None:
        n = int(bus.r.hget(bus.key("snap:meta"), "n_cells") or 0)
        return np.full(n, 0.0 if layer.endswith(".count") else np.nan, dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float32)


def version(bus: Bus) -> int:
    """The current snapshot version (0 before the first publish)."""
    return int(bus.r.hget(bus.key("snap:meta"), "version") or 0)


def cells(bus: Bus) -> np.ndarray:
    """The uint64 cell ids the snapshot arrays are indexed by."""
    blob = bus.r.get(bus.key("snap:cells"))
    return np.frombuffer(blob, dtype=np.uint64) if blob else np.zeros(0, np.uint64)


def changes_since(bus: Bus, since: int) -> tuple[int, np.ndarray | None, set[str]]:
    """(current version, positions of cells changed after `since`, changed `window/layer`s).

    Positions are None when `since` is older than the kept change log: read everything again.
    """
    entries = bus.r.xrange(bus.key("snap:changes"))
    current = version(bus)
    if since >= current:
        return current, np.zeros(0, np.int32), set()
    versions = [int(f[b"version"]) for _, f in entries]
    if not versions or min(versions) > since + 1:
        return current, None, set(S.LAYERS)
    cells_, layers = [], set()
    for (_, f), v in zip(entries, versions, strict=True):
        if v > since:
            cells_.append(np.frombuffer(f[b"cells"], dtype=np.int32))
            layers.update(json.loads(f[b"layers"]))
    return current, np.unique(np.concatenate(cells_)) if cells_ else np.zeros(0, np.int32), layers


def dump(bus: Bus, layer: str, window: str) -> dict[str, float]:
    """{hex cell: value} for every cell with a non-zero reading of the layer."""
    import h3

    values = read(bus, layer, window)
    ids = cells(bus)
    keep = np.flatnonzero(~np.isnan(values) & (values != 0)) if len(ids) else []
    return {h3.int_to_str(int(ids[i])): float(values[i]) for i in keep}
