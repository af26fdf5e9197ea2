"""Alerts and the rule engine that raises them beside ingest (`cityops rules run`).

`Engine.tick()` reads new video and incident entries with its own consumer group `rules` (so it
never disturbs ingest), turns them into event frames (flat entries and Arrow batches alike,
located on the twin), evaluates the event rules, the parking watch and the layer rules (on the
snapshots the ingest worker publishes), stores each alert (`{prefix}alerts:state`), opens or
joins its case, escalates overdue cases, and only then acknowledges the entries (at-least-once;
event ids already matched are skipped on redelivery). The clock is injectable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import redis

from layers import schema as S
from layers.bus import Bus
from layers.cases import CaseStore
from layers.clock import Clock, wall
from layers.notify import Outbox
from layers.parking import ParkingWatch
from layers.routing import Router
from layers.rules import RuleSet, Where
from layers.whistle import EventWatch, LayerWatch, metres, read_layer

GROUP = "rules"
EVENT_KINDS = ("video", "incident")
log = logging.getLogger("cityops.rules")


class AlertStore:
    """Alerts in Redis: `alerts:state` (id -> JSON), `alerts:created` (zset by time)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def new_id(self) -> str:
        return f"A{int(self.bus.r.incr(self.bus.key('alerts:seq'))):06d}"

    def save(self, alert: dict) -> dict:
        if not alert.get("id"):
            alert["id"] = self.new_id()
        pipe = self.bus.r.pipeline(transaction=True)
        pipe.hset(self.bus.key("alerts:state"), alert["id"], json.dumps(alert, ensure_ascii=False))
        pipe.zadd(self.bus.key("alerts:created"), {alert["id"]: float(alert["ts"])})
        pipe.execute()
        return alert

    def get(self, alert_id: str) -> dict | None:
        raw = self.bus.r.hget(self.bus.key("alerts:state"), alert_id)
        return json.loads(raw) if raw else None

    def list(self, limit: int = 100, rule: str | None = None) -> list[dict]:
        ids = self.bus.r.zrevrange(self.bus.key("alerts:created"), 0, -1 if rule else limit - 1)
        raws = self.bus.r.hmget(self.bus.key("alerts:state"), ids) if ids else []
        out = [json.loads(r) for r in raws if r]
        return [a for a in out if rule is None or a["rule"] == rule][:limit]


def where_mask(twin, where: Where) -> np.ndarray | None:
    """Boolean per-cell mask of a rule's `where` (None = everywhere); errors name the bad value."""
    mask = None

    def both(m):
        return m if mask is None else mask & m

    if where.cells:
        pos = twin.positions(np.array([h3.str_to_int(c) for c in where.cells], dtype=np.uint64))
        if (pos < 0).any():
            raise ValueError(f"where.cells: {where.cells[int(np.argmax(pos < 0))]} is not a cell "
                             f"of the twin")
        m = np.zeros(len(twin), bool)
        m[pos] = True
        mask = both(m)
    if where.units:
        m = np.zeros(len(twin), bool)
        for u in where.units:
            try:
                m[twin.cells_in(str(u))] = True
            except KeyError as exc:
                raise ValueError(f"where.units: no unit {u!r} in the twin "
                                 f"(see twin.units['name'])") from exc
        mask = both(m)
    if where.grids:
        by_id = dict(zip(twin.grids["id"].astype(str), twin.grids["grid"].astype(int),
                         strict=True))
        numbers = []
        for g in where.grids:
            number = by_id.get(g) if isinstance(g, str) else int(g)
            if number is None or number not in by_id.values():
                raise ValueError(f"where.grids: no grid {g!r} in the twin (use ids like "
                                 f"{next(iter(by_id), 'G0001')} or grid numbers)")
            numbers.append(number)
        mask = both(np.isin(twin.ds["grid"].values, numbers))
    if where.near is not None:
        fac = twin.facilities
        sel = fac[fac["kind"].isin(where.near.kinds)] if len(fac) else fac
        m = np.zeros(len(twin), bool)
        lat, lng = twin.centers
        for geom in sel.geometry:  # one vectorised pass per facility (tens to hundreds)
            m |= metres(lat, lng, geom.y, geom.x) <= where.near.within_m
        mask = both(m)
    return mask


def _seconds(values: pd.Series) -> np.ndarray:
    ts = pd.to_numeric(values, errors="coerce").to_numpy(float, copy=True)
    bad = np.isnan(ts)
    if bad.any():
        parsed = pd.to_datetime(values[bad], utc=True, errors="coerce", format="ISO8601")
        ts[bad] = ((parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).to_numpy(float)
    return ts


def event_frame(twin, kind: str, items: list, labels: set[str] | None = None) -> pd.DataFrame:
    """Located events of stream entries (flat or Arrow batches); broken rows are dropped."""
    flat, parts = [], []
    for _, fields in items:
        if not fields:
            continue
        if b"arrow" in fields:
            try:
                table = pa.ipc.open_stream(fields[b"arrow"]).read_all()
            except (pa.ArrowException, OSError, ValueError):
                continue  # ingest dead-letters it; the rules just skip it
            if labels is not None and "label" in table.column_names:
                import pyarrow.compute as pc

                table = table.filter(pc.is_in(table["label"], pa.array(sorted(labels))))
            parts.append(table.to_pandas())
        else:
            flat.append({k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                         for k, v in fields.items()})
    if flat:
        parts.append(pd.DataFrame(flat))
    if not parts:
        return pd.DataFrame(columns=["id", "ts", "lat", "lng", "pos"])
    frame = pd.concat(parts, ignore_index=True)
    if labels is not None and "label" in frame:
        frame = frame[frame["label"].isin(labels)]
    for col in ("id", "lat", "lng", "ts"):
        if col not in frame:
            frame[col] = np.nan
    frame = frame.assign(ts=_seconds(frame["ts"]),
                         lat=pd.to_numeric(frame["lat"], errors="coerce"),
                         lng=pd.to_numeric(frame["lng"], errors="coerce"))
    crs = frame["crs"].fillna("wgs84").astype(str) if "crs" in frame else pd.Series(
        "wgs84", index=frame.index)
    pos = np.full(len(frame), -1, dtype=np.int64)
    ok = (frame["lat"].abs() <= 90) & (frame["lng"].abs() <= 180) & frame["ts"].notna() \
        & frame["id"].notna()
    for name in S.CRS:
        sel = (ok & (crs == name)).to_numpy()
        if sel.any():
            pos[sel] = twin.locate(frame["lat"].to_numpy()[sel], frame["lng"].to_numpy()[sel],
                                   crs=name)
    frame = frame.assign(pos=pos, id=frame["id"].astype(str))
    return frame[frame["pos"] >= 0].reset_index(drop=True)


class Engine:
    """Evaluates a rule set every tick and turns alerts into cases."""

    def __init__(self, bus: Bus, twin, ruleset: RuleSet, clock: Clock = wall,
                 store: CaseStore | None = None, consumer: str = "rules-1",
                 batch: int = 10_000, start_id: str = "0") -> None:
        """`start_id`: where a new `rules` group starts ("0": the whole stream, "$": new only)."""
        self.bus, self.twin, self.ruleset, self.clock = bus, twin, ruleset, clock
        self.consumer, self.batch = consumer, batch
        self.outbox = Outbox(bus)
        self.store = store or CaseStore(bus, Router(twin), clock=clock, outbox=self.outbox)
        self.alerts = AlertStore(bus)
        cams = twin.cameras
        camera_kinds = dict(zip(cams["id"].astype(str), cams["kind"].astype(str),
                                strict=True)) if len(cams) else {}
        self.layer_watches, self.event_watches = [], []
        for rule in ruleset.enabled():
            mask = where_mask(twin, rule.where)
            if rule.layer is not None:
                self.layer_watches.append(LayerWatch(bus, twin, rule, mask))
            else:
                self.event_watches.append(EventWatch(bus, twin, rule, mask, camera_kinds))
        self.parking = ParkingWatch(bus, twin, ruleset.parking, self.outbox) \
            if ruleset.parking else None
        self.labels = {lab for w in self.event_watches if w.rule.event.kind == "video"
                       for lab in (w.rule.event.labels or S.LABELS)}
        if self.parking:
            self.labels |= set(ruleset.parking.labels)
        self.streams = {bus.stream(k): k for k in EVENT_KINDS}
        self._claim = True
        for stream in self.streams:
            try:
                bus.r.xgroup_create(stream, GROUP, id=start_id, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- reading ----------------------------------------------------------------------------------
    def _read(self) -> tuple[dict[str, list], dict[str, list]]:
        items: dict[str, list] = {k: [] for k in EVENT_KINDS}
        acks: dict[str, list] = {s: [] for s in self.streams}
        if self._claim:  # entries a previous life of this consumer read but did not finish
            for stream, kind in self.streams.items():
                got = self.bus.r.xautoclaim(stream, GROUP, self.consumer, 0, "0-0",
                                            count=self.batch)[1]
                got = [e for e in got if e is not None]
                items[kind] += got
                acks[stream] += [eid for eid, _ in got]
            self._claim = False
        while sum(len(v) for v in items.values()) < 10 * self.batch:
            res = self.bus.r.xreadgroup(GROUP, self.consumer, {s: ">" for s in self.streams},
                                        count=self.batch)
            if not res:
                break
            for stream, entries in res:
                stream = stream.decode() if isinstance(stream, bytes) else stream
                items[self.streams[stream]] += entries
                acks[stream] += [eid for eid, _ in entries]
        return items, acks

    def _seen_keys(self) -> list[str]:
        hour = int(self.clock() // 3600)
        return [self.bus.key(f"rules:seen:{h}") for h in (hour, hour - 1)]

    def _fresh(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Drop events already handled (redelivered entries, repeated ids within a batch)."""
        if frame.empty:
            return frame
        frame = frame.drop_duplicates("id")
        pipe = self.bus.r.pipeline(transaction=False)
        ids = list(frame["id"])
        for key in self._seen_keys():
            pipe.smismember(key, ids)
        seen = np.zeros(len(ids), dtype=bool)
        for flags in pipe.execute():
            seen |= np.asarray(flags, dtype=bool)
        return frame[~seen]

    # -- one tick ---------------------------------------------------------------------------------
    def tick(self) -> dict:
        """Read, evaluate, raise alerts, open/join cases, escalate, acknowledge."""
        now = self.clock()
        items, acks = self._read()
        frames = {"video": event_frame(self.twin, "video", items["video"], self.labels),
                  "incident": event_frame(self.twin, "incident", items["incident"])}
        frames = {k: self._fresh(f) for k, f in frames.items()}
        raised = []
        for watch in self.event_watches:
            raised += self._safely(watch.rule.id, watch.evaluate,
                                   frames[watch.rule.event.kind], now)
        if self.parking is not None:
            raised += self._safely("parking", self.parking.update, frames["video"], now)
        cache: dict[tuple[str, str], np.ndarray | None] = {}
        for watch in self.layer_watches:
            spec = watch.rule.layer
            if (spec.name, spec.window) not in cache:
                cache[(spec.name, spec.window)] = read_layer(self.bus, spec.name, spec.window,
                                                             len(self.twin))
            values = cache[(spec.name, spec.window)]
            if values is not None:
                raised += self._safely(watch.rule.id, watch.evaluate, values, now)
        cases = []
        for alert in raised:
            alert["id"] = self.alerts.new_id()
            case_id, _ = self.store.ingest(alert)
            alert["case"] = case_id
            self.alerts.save(alert)
            cases.append(case_id)
        escalated = self.store.escalate_overdue(now)
        # handled ids and acks go together, after the cases: a crash before this point means a
        # redelivery whose alerts merge into the same cases, never a lost event
        pipe = self.bus.r.pipeline(transaction=True)
        handled = [i for f in frames.values() for i in f["id"]]
        if handled:
            key = self._seen_keys()[0]
            pipe.sadd(key, *handled)
            pipe.expire(key, 2 * 3600 + 60)
        for stream, ids in acks.items():
            if ids:
                pipe.xack(stream, GROUP, *ids)
        pipe.hset(self.bus.key("rules:meta"), mapping={"heartbeat": repr(now),
                                                       "consumer": self.consumer})
        pipe.execute()
        return {"time": now, "entries": {k: len(v) for k, v in items.items()},
                "alerts": [a["id"] for a in raised], "cases": cases, "escalated": escalated}

    def _safely(self, name: str, func: Callable, *args) -> list[dict]:
        try:
            return func(*args)
        except Exception:  # noqa: BLE001 - one broken rule must not stop the others
            log.exception("rule %s failed this tick", name)
            return []

    def run(self, stop: Callable[[], bool] = lambda: False, interval_s: float = 5.0,
            on_tick: Callable[[dict], None] | None = None) -> None:
        """Tick every `interval_s` seconds (of wall time) until `stop()` is true."""
        while not stop():
            started = time.monotonic()
            summary = self.tick()
            if on_tick:
                on_tick(summary)
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
