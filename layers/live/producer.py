"""Producers: every door into the pipeline (feed, MQTT bridge, HTTP API) writes through one.

With one ingest partition a producer XADDs to `events:{kind}`. With P partitions it locates each
event on the twin and XADDs it to its partition's stream; an event it cannot locate (bad or
missing coordinates) goes to partition 0, whose worker dead-letters it with the reason as today.
The partition layout (count, parent level, the blocks of the twin) is kept in Redis
(`ingest:layout`, with the twin's fingerprint) so that every producer and worker agrees on it:
the first to start writes it, later ones read it and refuse a different twin.

Vehicle fixes pass the track gate first (`layers.live.tracks`): an impossible jump is
dead-lettered there and never reaches a stream.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from layers.live import schema as S
from layers.live.bus import Bus
from layers.live.partitions import Partitions
from layers.live.tracks import TrackGate


class LayoutError(RuntimeError):
    """The partition layout in Redis does not fit this twin or request."""


def layout(bus: Bus, twin, count: int | None = None, level: int | None = None) -> Partitions:
    """The partitions producers and workers share: read from Redis, or made and stored there
    (`count` from the caller, else $CITYOPS_PARTITIONS, else 1)."""
    from twin.settings import number

    raw = {k.decode(): v.decode() for k, v in bus.redis.hgetall(bus.keys.ingest_layout).items()}
    if raw:
        if raw.get("twin") != twin.fingerprint:
            raise LayoutError(f"the streams under {bus.prefix!r} are partitioned for another twin:"
                              f" use another prefix, or clear them (cityops layers reset)")
        stored = Partitions(int(raw["count"]), int(raw["level"]),
                            np.array([int(b) for b in raw["bounds"].split(",")], dtype=np.int64))
        if count is not None and count != stored.count:
            raise LayoutError(f"the streams under {bus.prefix!r} have {stored.count} partitions, "
                              f"not {count}: keep {stored.count} or use another prefix")
        return stored
    count = int(number("CITYOPS_PARTITIONS", 1)) if count is None else int(count)
    made = Partitions.of(twin, count, level)
    if count == 1:
        return made
    fields = [x for kv in {**made.describe(), "twin": twin.fingerprint}.items() for x in kv]
    bus.redis.eval(_WRITE_ONCE, 1, bus.keys.ingest_layout, *fields)  # the first writer wins
    return layout(bus, twin, count)


_WRITE_ONCE = ("if redis.call('exists', KEYS[1]) == 0 then "
               "redis.call('hset', KEYS[1], unpack(ARGV)) end return 1")


def stored_bounds(bus: Bus, n_cells: int) -> list[int]:
    """The blocks of the stored partition layout ([0, n] when there is one partition)."""
    raw = bus.redis.hget(bus.keys.ingest_layout, "bounds")
    return [0, n_cells] if raw is None else [int(b) for b in raw.decode().split(",")]


class Producer:
    """Writes events of any kind to the right partition streams of a bus."""

    def __init__(self, bus: Bus, twin, partitions: Partitions | None = None) -> None:
        self.bus, self.twin = bus, twin
        self.partitions = partitions or layout(bus, twin)
        self.jumps = 0  # vehicle fixes refused as impossible jumps (dead-lettered)
        self._tracks: TrackGate | None = None

    def partition_of(self, table: pa.Table) -> np.ndarray:
        """The partition of each row (0 for rows that cannot be located)."""
        n = table.num_rows
        if self.partitions.count == 1:
            return np.zeros(n, dtype=np.int64)
        lat = _floats(table, "lat", n)
        lng = _floats(table, "lng", n)
        crs = (table.column("crs").to_pylist() if "crs" in table.column_names
               else ["wgs84"] * n)
        pos = np.full(n, -1, dtype=np.int64)
        ok = np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180)
        crs = np.array([c.decode() if isinstance(c, bytes) else (c or "wgs84") for c in crs])
        for name in S.CRS:
            sel = ok & (crs == name)
            if sel.any():
                pos[sel] = self.twin.locate(lat[sel], lng[sel], crs=name)
        part = self.partitions.of_positions(pos)
        return np.where(part >= 0, part, 0)

    def publish(self, kind: str, events, batch: int | None = None) -> int:
        """XADD events (a list of dicts or a pyarrow Table) to their partitions' streams; the
        number written (vehicle fixes refused as impossible jumps are not)."""
        if kind == "vehicle":
            if self._tracks is None:
                self._tracks = TrackGate(self.bus, self.twin)
            admitted = self._tracks.admit(events)
            self.jumps += len(admitted.jumps)
            events = admitted.table
            if not events.num_rows:
                return 0
        if self.partitions.count == 1:
            return self.bus.publish(kind, events, batch=batch)
        table = events if isinstance(events, pa.Table) else pa.Table.from_pylist(list(events))
        part = self.partition_of(table)
        n = 0
        for p in np.unique(part).tolist():
            rows = table.take(pa.array(np.flatnonzero(part == p)))
            n += self.bus.publish(kind, rows if batch and batch > 1 else rows.to_pylist(),
                                  batch=batch, partition=int(p))
        return n


def _floats(table: pa.Table, name: str, n: int) -> np.ndarray:
    if name not in table.column_names:
        return np.full(n, np.nan)
    col = table.column(name)
    try:
        return col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        out = np.full(n, np.nan)
        for i, v in enumerate(col.to_pylist()):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
        return out
