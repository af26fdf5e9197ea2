"""Inspection vehicles at the door: impossible jumps refused, the last fixes and coverage by day.

Every producer (the feed, the MQTT bridge, the HTTP API: `layers.live.producer.Producer`) passes
vehicle fixes through `TrackGate.admit` before they reach a stream. The gate validates them with
THE validator (a row it refuses goes on to the stream, where ingest dead-letters it with the
reason, as for any kind), then takes each vehicle's valid fixes in time order against its last
accepted fix (`tracks:last`): a fix the vehicle could only reach faster than `MAX_SPEED_KMH`,
after allowing `GPS_ERROR_M` of error at each end, is an impossible jump. It goes to the dead
letters with the speed it implies and never reaches a stream; the last accepted fix stays the
reference. A fix more than `SEGMENT_GAP_S` from the last accepted one starts a new segment, so a
vehicle towed or switched off and on elsewhere is not refused for ever.

The cells of the accepted fixes are added to their day's coverage set (`tracks:cells:{day}`, the
city's calendar day, kept `KEEP_DAYS`): "which streets were inspected this week". A raw XADD that
bypasses the producers skips the jump check only (ingest checks everything else as usual).
One batch is one transaction WATCHing the last fixes, so two doors sending the same vehicle
cannot both pass a jump.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import redis

from layers.live import schema as S
from layers.live.bus import Bus
from layers.live.columns import ArrowColumns
from layers.live.decode import DeadRow
from layers.live.validate import validate
from twin import crs as crs_mod

MAX_SPEED_KMH = S.VEHICLE_SPEED_MAX_KMH  # physical limit between two fixes (schema: why)
# Allowance per fix: gps.gov gives ~4.9 m (95 %) for a phone under open sky; multipath between
# buildings costs tens of metres, so 25 m at each end keeps honest fixes from looking like jumps.
GPS_ERROR_M = 25.0
SEGMENT_GAP_S = 600.0
KEEP_DAYS = 15
M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class Fix:
    """A vehicle's accepted position (WGS-84) at a time, with its heading when it sent one."""

    vehicle: str
    ts: float
    lat: float
    lng: float
    heading: float | None = None

    def to_json(self) -> str:
        return json.dumps([self.ts, self.lat, self.lng, self.heading])

    @staticmethod
    def from_json(vehicle: str, raw: bytes | str) -> Fix:
        ts, lat, lng, heading = json.loads(raw)
        return Fix(vehicle, float(ts), float(lat), float(lng),
                   None if heading is None else float(heading))


def metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Equirectangular distance in metres (exact enough over a few kilometres)."""
    dx = (lng1 - lng2) * np.cos(np.radians((lat1 + lat2) / 2.0))
    return float(M_PER_DEG * np.hypot(dx, lat1 - lat2))


def implied_speed_kmh(last: Fix, lat: float, lng: float, ts: float) -> float:
    """The speed (km/h) a vehicle needs to go from its last fix to a new one, GPS error aside."""
    gap = max(0.0, metres(last.lat, last.lng, lat, lng) - 2 * GPS_ERROR_M)
    if gap == 0.0:
        return 0.0
    return 3.6 * gap / max(abs(ts - last.ts), 1e-3)


def city_days(ts: np.ndarray, timezone: str) -> np.ndarray:
    """The city's calendar day (YYYYMMDD, int) of each epoch time."""
    when = pd.to_datetime(np.asarray(ts, dtype=float), unit="s", utc=True).tz_convert(timezone)
    return (when.year * 10_000 + when.month * 100 + when.day).to_numpy(np.int64)


def recent_days(n: int, now: float, timezone: str) -> list[int]:
    """The last `n` city days (YYYYMMDD), today included, oldest first; `n` from 1 to
    `KEEP_DAYS` (coverage is kept no longer)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= KEEP_DAYS:
        raise ValueError(f"days must be from 1 to {KEEP_DAYS} (coverage is kept {KEEP_DAYS} "
                         f"days), got {n}")
    stamps = np.array([now - k * 86_400.0 for k in range(int(n))])
    return sorted(set(city_days(stamps, timezone).tolist()))


@dataclass
class Admitted:
    """What the gate did with a batch: the rows that go on to the stream, and the jumps."""

    table: pa.Table
    jumps: list[DeadRow]


def _text_table(events) -> pa.Table:
    """Events (dicts from JSON or a table) as a table; dict values as text, as a flat entry is."""
    if isinstance(events, pa.Table):
        return events
    rows = list(events)
    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.table({k: pa.array([None if row.get(k) is None else str(row[k]) for row in rows],
                                 type=pa.string()) for k in names})


class TrackGate:
    """Owns `tracks:*`: judges vehicle fixes, keeps the last fix of each vehicle and coverage."""

    def __init__(self, bus: Bus, twin) -> None:
        self.bus, self.twin = bus, twin
        self.keys = bus.keys
        self.redis = bus.redis

    # -- the door --------------------------------------------------------------------------------
    def admit(self, events, now: float | None = None) -> Admitted:
        """The rows of a batch of vehicle fixes that may go on to the stream; impossible jumps
        are dead-lettered (with the reason) in the same transaction that moves the last fixes."""
        now = time.time() if now is None else now
        table = _text_table(events)
        cols = ArrowColumns(table)
        ev, bad, _ = validate("vehicle", cols, self.twin, now)
        ok = np.ones(table.num_rows, dtype=bool)
        ok[bad] = False
        rows = np.flatnonzero(ok)  # valid rows, in the order of `ev`
        if not len(rows):
            return Admitted(table, [])
        vehicles = [str(v) for v in cols.table.column("vehicle").take(pa.array(rows)).to_pylist()]
        vehicles = [v.decode() if isinstance(v, bytes) else v for v in vehicles]
        lat, lng = self._wgs84(cols, rows)
        heading = cols.numeric("heading")[rows]
        while True:
            try:
                keep, jumps = self._judge(table, rows, vehicles, ev.ts, lat, lng, heading,
                                                 ev.pos)
                break
            except redis.WatchError:
                continue
        out = table.filter(pa.array(keep)) if not keep.all() else table
        return Admitted(out, jumps)

    def _wgs84(self, cols: ArrowColumns, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat, lng = cols.numeric("lat")[rows], cols.numeric("lng")[rows]
        crs = cols.codes("crs", S.CRS, default=0)[rows]
        for c, name in enumerate(S.CRS):
            sel = crs == c
            if c and sel.any():
                lat[sel], lng[sel] = crs_mod.to_wgs84(lat[sel], lng[sel], name)
        return lat, lng

    def _judge(self, table, rows, vehicles, ts, lat, lng, heading, pos):
        """One optimistic transaction: read the last fixes, judge the batch, write it all."""
        keep = np.ones(table.num_rows, dtype=bool)
        jumps: list[DeadRow] = []
        last_key = self.keys.tracks("last")
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.watch(last_key)
            names = sorted(set(vehicles))
            stored = dict(zip(names, pipe.hmget(last_key, names), strict=True))
            last = {v: Fix.from_json(v, raw) for v, raw in stored.items() if raw}
            moved: dict[str, Fix] = {}
            accepted = np.zeros(len(rows), dtype=bool)
            for i in np.lexsort((np.arange(len(rows)), ts)):  # time order, stable
                v, t = vehicles[i], float(ts[i])
                prev = last.get(v)
                if prev is not None and abs(t - prev.ts) <= SEGMENT_GAP_S:
                    speed = implied_speed_kmh(prev, float(lat[i]), float(lng[i]), t)
                    if speed > MAX_SPEED_KMH:
                        keep[rows[i]] = False
                        jumps.append(self._jump(table, int(rows[i]), v, speed, prev))
                        continue
                fix = Fix(v, t, float(lat[i]), float(lng[i]),
                          None if np.isnan(heading[i]) else float(heading[i]))
                if prev is None or t >= prev.ts:
                    last[v] = moved[v] = fix
                accepted[i] = True
            days = city_days(ts[accepted], self.twin.timezone) if accepted.any() else []
            cells = self.twin.cell_ids[pos[accepted]]
            pipe.multi()
            if moved:
                pipe.hset(last_key, mapping={v: f.to_json() for v, f in moved.items()})
            for day in np.unique(days).tolist():
                key = self.keys.tracks(f"cells:{day}")
                pipe.sadd(key, *[str(c) for c in np.unique(cells[days == day]).tolist()])
                pipe.expire(key, KEEP_DAYS * 86_400)
            self.bus.queue_dead(pipe, [j.record(self.bus.stream("vehicle")) for j in jumps],
                                self.bus.partitions()[0])
            pipe.execute()
        return keep, jumps

    @staticmethod
    def _jump(table: pa.Table, row: int, vehicle: str, speed: float, prev: Fix) -> DeadRow:
        fields = {k: ("" if v is None else str(v)) for k, v in table.slice(row, 1).to_pylist()[0]
                  .items()}
        reason = (f"impossible jump: vehicle {vehicle!r} would need {speed:,.0f} km/h from its "
                  f"last fix (ts {prev.ts:.0f}), over the {MAX_SPEED_KMH:.0f} km/h limit: check "
                  f"the GPS, or send fixes in time order")
        return DeadRow("door:vehicle", reason, fields)

    # -- reading ---------------------------------------------------------------------------------
    def last_fixes(self) -> list[Fix]:
        """The last accepted fix of every vehicle, newest first."""
        raw = self.redis.hgetall(self.keys.tracks("last"))
        fixes = [Fix.from_json(k.decode(), v) for k, v in raw.items()]
        return sorted(fixes, key=lambda f: -f.ts)

    def covered(self, days: list[int]) -> np.ndarray:
        """The uint64 cells covered on any of the given city days (YYYYMMDD)."""
        if not days:
            return np.zeros(0, np.uint64)
        keys = [self.keys.tracks(f"cells:{int(d)}") for d in days]
        members = self.redis.sunion(keys)
        return np.array(sorted(int(m) for m in members), dtype=np.uint64)

    def covered_positions(self, days: list[int]) -> np.ndarray:
        """Twin positions (int64) the vehicles covered on any of the given city days (e.g.
        `recent_days(7, now, tz)`: "which streets were inspected this week")."""
        cells = self.covered(days)
        if not len(cells):
            return np.zeros(0, np.int64)
        pos = self.twin.positions(cells)
        return pos[pos >= 0]
