"""Validate a column group of events of one kind and turn it into located, coded arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layers.live import schema as S
from layers.live.idset import IdSet, point_keys

KIND_SALT = {"iot": 0x1F, "video": 0x2E, "incident": 0x3D, "vehicle": 0x4C}
CACHE_LIMIT = 1 << 20
RETENTION_S = S.WINDOWS["24h"] * 60.0


@dataclass
class Events:
    """Valid events of one kind: hashes of their ids, time, cell position, code and value."""

    kind: str
    h: np.ndarray      # uint64 id hashes
    ts: np.ndarray     # float64 epoch seconds
    pos: np.ndarray    # int64 positions in the twin's cell_ids
    code: np.ndarray   # int64: metric (iot), label (video), category (incident), detection
                       # (vehicle; -1: a fix without a detection)
    value: np.ndarray  # float64: metric value (iot), detected count (video), 1 (incident, vehicle)

    def __len__(self) -> int:
        return len(self.h)

    @staticmethod
    def empty(kind: str) -> Events:
        z = np.zeros(0)
        return Events(kind, np.zeros(0, np.uint64), z, np.zeros(0, np.int64),
                      np.zeros(0, np.int64), z)

    def take(self, mask: np.ndarray) -> Events:
        return Events(self.kind, self.h[mask], self.ts[mask], self.pos[mask], self.code[mask],
                      self.value[mask])

    @staticmethod
    def concat(kind: str, parts: list[Events]) -> Events:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Events.empty(kind)
        if len(parts) == 1:
            return parts[0]
        return Events(kind, *(np.concatenate([getattr(p, f) for p in parts])
                              for f in ("h", "ts", "pos", "code", "value")))


class _Reasons:
    """The first failing check of each row wins."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int32)
        self.messages = [""]

    def flag(self, bad: np.ndarray, message: str) -> None:
        bad = bad & (self.code == 0)
        if bad.any():
            self.messages.append(message)
            self.code[bad] = len(self.messages) - 1

    @property
    def ok(self) -> np.ndarray:
        return self.code == 0

    def bad(self) -> tuple[np.ndarray, list[str]]:
        idx = np.flatnonzero(self.code)
        return idx, [self.messages[c] for c in self.code[idx]]


def _locate(twin, lat, lng, crs, ok, cache: IdSet | None) -> np.ndarray:
    """Cell positions (-1 outside), memoised on the exact coordinates when a cache is given."""
    pos = np.full(len(lat), -1, dtype=np.int64)
    idx = np.flatnonzero(ok)
    if cache is not None and len(idx):
        keys = point_keys(lat[idx], lng[idx], crs[idx])
        got = cache.get(keys)
        pos[idx] = got
        miss = idx[got == -2]
        if len(miss):
            ukeys, first = np.unique(keys[got == -2], return_index=True)
            first = miss[first]
            found = np.full(len(first), -1, dtype=np.int64)
            for c, name in enumerate(S.CRS):
                sel = crs[first] == c
                if sel.any():
                    found[sel] = twin.locate(lat[first[sel]], lng[first[sel]], crs=name)
            if len(cache) + len(ukeys) > CACHE_LIMIT:
                cache.__init__()
            cache.add(ukeys, found)
            pos[miss] = cache.get(keys[got == -2])
        return pos
    for c, name in enumerate(S.CRS):
        sel = ok & (crs == c)
        if sel.any():
            pos[sel] = twin.locate(lat[sel], lng[sel], crs=name)
    return pos


def validate(kind: str, cols, twin, now: float, cache: IdSet | None = None,
             field_bytes: int = S.MAX_FIELD_BYTES) -> tuple[Events, np.ndarray, list[str]]:
    """Valid events, and the row indices + reasons of the invalid ones (`cache`: point memo)."""
    n = cols.n
    why = _Reasons(n)
    for name in cols.text_names():
        why.flag(cols.nbytes(name) > field_bytes,
                 f"field {name!r} is over {field_bytes} bytes: send less, link large content")
    for name in S.REQUIRED[kind]:
        why.flag(~cols.present(name), f"missing field {name!r}: every {kind} event needs "
                                      f"{', '.join(S.REQUIRED[kind])}")
    why.flag(cols.nbytes("id") > S.MAX_ID_BYTES, f"id longer than {S.MAX_ID_BYTES} bytes")
    ts = cols.seconds("ts")
    why.flag(np.isnan(ts), "unparsable ts: use epoch seconds or ISO 8601")
    why.flag(ts > now + S.FUTURE_TOLERANCE_S,
             f"ts more than {S.FUTURE_TOLERANCE_S:.0f} s in the future: check the producer's clock")
    why.flag(ts <= now - RETENTION_S, "ts older than the 24 h retention of the live layers")
    lat, lng = cols.numeric("lat"), cols.numeric("lng")
    why.flag(~(np.abs(lat) <= 90.0), "lat not a number in [-90, 90]")
    why.flag(~(np.abs(lng) <= 180.0), "lng not a number in [-180, 180]")
    crs = cols.codes("crs", S.CRS, default=0)
    why.flag(crs < 0, f"unknown crs: use one of {', '.join(S.CRS)}")
    code, value = _kind_fields(kind, cols, why)
    pos = _locate(twin, lat, lng, crs, why.ok, cache)
    why.flag(pos < 0, "location outside the twin")
    ok = why.ok
    events = Events(kind, cols.hashes("id", KIND_SALT[kind])[ok], ts[ok], pos[ok], code[ok],
                    value[ok])
    idx, reasons = why.bad()
    return events, idx, reasons


def _kind_fields(kind: str, cols, why: _Reasons) -> tuple[np.ndarray, np.ndarray]:
    if kind == "iot":
        code = cols.codes("metric", S.METRICS)
        why.flag(code < 0, f"unknown metric: use one of {', '.join(S.METRICS)}")
        value = cols.numeric("value")
        why.flag(~np.isfinite(value), "value is not a finite number")
        low = np.array([S.METRIC_BOUNDS[m][0] for m in S.METRICS] + [np.nan])[code]
        high = np.array([S.METRIC_BOUNDS[m][1] for m in S.METRICS] + [np.nan])[code]
        why.flag(~((value >= low) & (value <= high)),
                 "value out of the metric's range: see layers.live.schema.METRIC_BOUNDS")
        why.flag(cols.nbytes("sensor") > S.MAX_ID_BYTES, "sensor id too long")
        return code, value
    if kind == "video":
        code = cols.codes("label", S.LABELS)
        why.flag(code < 0, f"unknown label: use one of {', '.join(S.LABELS)}")
        has_count = cols.present("count")
        value = np.where(has_count, cols.numeric("count"), 1.0)
        why.flag(~((value >= 0) & (value <= S.VIDEO_COUNT_MAX)),
                 f"count is not a number in [0, {S.VIDEO_COUNT_MAX:.0f}]")
        conf = np.where(cols.present("confidence"), cols.numeric("confidence"), 1.0)
        why.flag(~((conf >= 0) & (conf <= 1)), "confidence is not a number in [0, 1]")
        why.flag(cols.nbytes("camera") > S.MAX_ID_BYTES, "camera id too long")
        why.flag(cols.nbytes("plate") > 32, "plate longer than 32 bytes")
        return code, value
    if kind == "vehicle":
        return _vehicle_fields(cols, why)
    code = cols.codes("category", S.CATEGORIES)
    why.flag(cols.codes("source", S.SOURCES) < 0,
             f"unknown source: use one of {', '.join(S.SOURCES)}")
    why.flag(code < 0, f"unknown category: use one of {', '.join(S.CATEGORIES)}")
    severity = cols.numeric("severity")
    why.flag(~np.isin(severity, S.SEVERITIES), "severity is not 1, 2, 3 or 4")
    why.flag(cols.text_chars("text", S.MAX_TEXT_CHARS) > S.MAX_TEXT_CHARS,
             f"text longer than {S.MAX_TEXT_CHARS} characters")
    return code, np.ones(cols.n)


def _within(cols, why: _Reasons, name: str, low: float, high: float, unit: str) -> None:
    """An optional numeric field, when given, must be a number in [low, high]."""
    given = cols.present(name)
    value = cols.numeric(name)
    why.flag(given & ~((value >= low) & (value <= high)),
             f"{name} is not a number in [{low:g}, {high:g}]{unit}")


def _vehicle_fields(cols, why: _Reasons) -> tuple[np.ndarray, np.ndarray]:
    """A vehicle fix: its vehicle id, optional heading, speed, detection and confidence."""
    why.flag(cols.nbytes("vehicle") > S.MAX_ID_BYTES, "vehicle id too long")
    _within(cols, why, "heading", 0.0, 360.0, " (degrees clockwise from north)")
    _within(cols, why, "speed_kmh", 0.0, S.VEHICLE_SPEED_MAX_KMH, " km/h")
    _within(cols, why, "confidence", 0.0, 1.0, "")
    has = cols.present("detection")
    code = np.where(has, cols.codes("detection", S.DETECTIONS), -1)
    why.flag(has & (code < 0), f"unknown detection: use one of {', '.join(S.DETECTIONS)}")
    why.flag(cols.text_chars("text", S.MAX_TEXT_CHARS) > S.MAX_TEXT_CHARS,
             f"text longer than {S.MAX_TEXT_CHARS} characters")
    return code, np.ones(cols.n)
