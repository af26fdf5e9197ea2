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
# entry ids "ms-seq" as ms * SEQ_SPAN + seq: no publisher adds 1,000 versions in one ms, and the
# number stays below 2**53 (until the year 2255), so a browser holds it exactly
SEQ_SPAN = 1_000
BLOCK = 1024  # cells per partial write (SETRANGE) of a layer


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


class Publisher:
    """Writes one partition's block of every changed layer and remembers what it last wrote.

    The partition holds the twin's positions [offset, offset + len(cell_ids)); its cells are
    written with SETRANGE at their byte offset in the whole-twin layer arrays, so any number of
    partition workers share one snapshot without touching each other's cells. Only the cells
    touched since the last publish are recomputed, except after a clock tick, a late event or a
    restart, when every cell of the block is.
    """

    def __init__(self, bus: Bus, cell_ids: np.ndarray, offset: int = 0,
                 n_total: int | None = None, interval_s: float = 1.0) -> None:
        self.store = SnapshotStore(bus)
        self.cell_ids = cell_ids
        self.offset = int(offset)
        self.n_total = len(cell_ids) if n_total is None else int(n_total)
        self.interval_s = interval_s
        self.prev: dict[tuple[str, str], np.ndarray] = {}
        self._last = -np.inf

    @property
    def version(self) -> int:
        return self.store.version()

    def _write(self, pipe, name: str, arr: np.ndarray, where: np.ndarray | None) -> None:
        """Write a changed layer block: only the changed runs of cells when they are few."""
        if where is None:
            pipe.setrange(name, self.offset * 4, arr.tobytes())
            return
        blocks = np.unique(where // BLOCK)
        if len(blocks) * BLOCK * 2 > len(arr):
            pipe.setrange(name, self.offset * 4, arr.tobytes())
            return
        for b in blocks.tolist():
            pipe.setrange(name, (self.offset + b * BLOCK) * 4,
                          arr[b * BLOCK:(b + 1) * BLOCK].tobytes())

    def publish(self, state: LiveState, now: float, force: bool = False) -> bool:
        """Write every layer of the block that changed (one transaction in the snapshot's hash
        slot); True if a new version was made."""
        if not force and time.monotonic() - self._last < self.interval_s:
            return False
        self._last = time.monotonic()
        pipe = self.store.pipeline()
        made = self._queue(pipe, state, now)
        pipe.execute()
        return made

    def _queue(self, pipe, state: LiveState, now: float) -> bool:
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
                    self._write(pipe, name, arr, None)
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
                    self._write(pipe, name, self.prev[key], where)
                changed_layers.append(f"{window}/{layer}")
        if not changed_layers:
            self.store.queue_time(pipe, now)
            return False
        self.store.queue_version(pipe, now, self.n_total, self.cell_ids, self.offset,
                                 full, changed_layers, self.offset + np.flatnonzero(changed))
        return True


class SnapshotStore:
    """Reads and writes the snapshot keys of one bus (`snap:*`)."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys

    def pipeline(self):
        """A transaction on the snapshot keys (one hash slot on a cluster)."""
        return self.redis.pipeline(transaction=True)

    def queue_time(self, pipe, now: float) -> None:
        pipe.hset(self.keys.snap_meta, "time", repr(now))

    def queue_version(self, pipe, now: float, n_cells: int, cell_ids: np.ndarray, offset: int,
                      with_cells: bool, changed_layers: list[str],
                      changed_cells: np.ndarray) -> None:
        """Queue a new version: its change-log entry (whose stream id IS the version), the
        metadata and, after a full write, the block's cell ids (the layer arrays are queued by
        the publisher itself)."""
        if with_cells:
            pipe.setrange(self.keys.snap_cells, offset * 8,
                          np.asarray(cell_ids, np.uint64).tobytes())
        pipe.hset(self.keys.snap_meta, mapping={
            "time": repr(now), "n_cells": n_cells,
            "windows": json.dumps(list(S.WINDOWS)), "layers": json.dumps(S.LAYERS)})
        pipe.xadd(self.keys.snap_changes,
                  {"layers": json.dumps(changed_layers), **_cells_field(changed_cells)},
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
        """The current snapshot version (0 before the first publish): the last change-log
        entry's id as one number, so partition workers share one increasing version."""
        last = self.redis.xrevrange(self.keys.snap_changes, count=1)
        return _version(last[0][0]) if last else 0

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
        first = self.redis.xrange(self.keys.snap_changes, count=1)
        if since <= 0 or not first or _version(first[0][0]) > since:
            return current, None, set(S.LAYERS)  # the log no longer reaches back to `since`
        entries = self.redis.xrange(self.keys.snap_changes, min=f"({_entry_id(since)}")
        cells_, layers = [], set()
        for _, f in entries:
            cells_.append(_changed_cells(f))
            layers.update(json.loads(f[b"layers"]))
        current = max([current] + [_version(eid) for eid, _ in entries])
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


def _cells_field(cells: np.ndarray) -> dict:
    """A change-log entry's changed positions: one contiguous run (a block written whole, e.g.
    the first publish of a city's million cells) as its two ends, else the positions (int32).
    Every reader of the log reads its first and last entries: they must stay small."""
    cells = np.asarray(cells, np.int64)
    if len(cells) > 2 and int(cells[-1]) - int(cells[0]) + 1 == len(cells):
        return {"span": f"{int(cells[0])} {int(cells[-1]) + 1}"}
    return {"cells": cells.astype(np.int32).tobytes()}


def _changed_cells(fields: dict) -> np.ndarray:
    """The positions a change-log entry names (see `_cells_field`)."""
    if b"span" in fields:
        lo, hi = (int(x) for x in fields[b"span"].split())
        return np.arange(lo, hi, dtype=np.int32)
    return np.frombuffer(fields[b"cells"], dtype=np.int32)


def _version(entry_id) -> int:
    """A change-log entry id ("ms-seq") as one increasing number."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    ms, _, seq = text.partition("-")
    return int(ms) * SEQ_SPAN + int(seq or 0)


def _entry_id(version: int) -> str:
    return f"{version // SEQ_SPAN}-{version % SEQ_SPAN}"


def read(bus: Bus, layer: str, window: str = "1h") -> np.ndarray:
    """One layer for all cells (see `SnapshotStore.read`)."""
    return SnapshotStore(bus).read(layer, window)


def version(bus: Bus) -> int:
    """The current snapshot version (see `SnapshotStore.version`)."""
    return SnapshotStore(bus).version()


def cells(bus: Bus) -> np.ndarray:
    """The snapshot's cell ids (see `SnapshotStore.cells`)."""
    return SnapshotStore(bus).cells()


def published_at(bus: Bus) -> float | None:
    """When the snapshot was last published (unix seconds), None before the first."""
    return SnapshotStore(bus).time()


def changes_since(bus: Bus, since: int) -> tuple[int, np.ndarray | None, set[str]]:
    """What changed after a version (see `SnapshotStore.changes_since`)."""
    return SnapshotStore(bus).changes_since(since)
