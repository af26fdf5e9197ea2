"""The ingest worker: consumer group `ingest` on the three event streams -> live layers.

Exactness under crashes: the worker holds a lease, keeps its state in memory, and at each
checkpoint writes, in ONE MULTI/EXEC guarded by the lease (WATCH), the changed minute buckets,
the new event-id hashes, the dead letters, the counters, the snapshot and the XACKs of every
entry processed since the previous checkpoint. A killed worker leaves its entries pending and
its state at the last checkpoint; the next worker loads that state and XAUTOCLAIMs the pending
entries, so each event is applied exactly once. Ids are deduplicated on 64-bit hashes.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import redis

from layers import schema as S
from layers.bus import GROUP, Bus, ensure_groups
from layers.columns import ArrowColumns, split_entries
from layers.idset import IdSet
from layers.snapshot import Publisher
from layers.state import LiveState
from layers.validate import Events, validate

DEAD_MAXLEN = 100_000
LAG_CAP = 100_000  # Redis < 7 only: the lag is counted up to this many entries
_COUNT_AFTER = "return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])"
READ_EVENTS = 400_000  # about this many events per read (per stream)


class WorkerError(RuntimeError):
    """The worker cannot run as configured; the message says what to change."""


class LeaseLost(WorkerError):
    """Another worker took over the ingest lease; this one must stop."""


class Worker:
    """One ingest worker; `run()` loops until stopped, `drain()` until the streams are empty."""

    def __init__(self, bus: Bus, twin, consumer: str | None = None,
                 clock: Callable[[], float] = time.time, count: int = 1000,
                 checkpoint_s: float = 0.5, lease_ms: int = 10_000, history: bool = True) -> None:
        self.bus, self.twin, self.clock = bus, twin, clock
        self.consumer = consumer or f"worker-{os.getpid()}"
        self.token = f"{self.consumer}|{uuid.uuid4().hex[:12]}"
        self.count, self.checkpoint_s, self.lease_ms = count, checkpoint_s, lease_ms
        self.max_count = count
        self._batch_rows = 1.0  # running mean of events per entry
        self.history = history
        self.n = len(twin)
        self._conn = None  # our own connection for reads, so the next read can be in flight
        self._inflight = False
        self._prefetch = True
        self.streams = {bus.stream(k): k for k in S.KINDS}
        self.state = LiveState(self.n)
        self.ids = IdSet(1 << 20)
        self.points = IdSet()  # memo: exact coordinates -> cell position
        self.publisher = Publisher(bus, twin.cell_ids)
        self.cells_hash = hashlib.sha1(np.asarray(twin.cell_ids).tobytes()).hexdigest()[:16]
        self.totals: dict = {"counted": 0, "dead": 0, "duplicates": 0, "last_event_ts": 0.0}
        self.totals.update({f"counted_{k}": 0 for k in S.KINDS})
        self._reset_pending()
        self._claiming = {s: "0-0" for s in self.streams}
        self._last_ckpt = time.monotonic()
        self._id_hour = None
        self.epoch = -1
        self.started = False

    def _reset_pending(self) -> None:
        self._acks: dict[str, list] = {s: [] for s in self.streams}
        self._dead: list[dict] = []
        self._new_ids: list[tuple[np.ndarray, np.ndarray]] = []
        self._since = 0

    # -- start-up ---------------------------------------------------------------------------
    def start(self, wait_s: float = 60.0) -> None:
        """Create the groups, take the lease, load the last checkpoint."""
        ensure_groups(self.bus)
        self._acquire(wait_s)
        self._load()
        self.started = True

    def _acquire(self, wait_s: float) -> None:
        key, deadline = self.bus.key("ingest:lease"), time.monotonic() + wait_s
        while True:
            holder = (self.bus.r.get(key) or b"").decode()
            mine = holder.split("|")[0] == self.consumer  # our own earlier life: take over
            if self.bus.r.set(key, self.token, nx=not mine, px=self.lease_ms):
                self.epoch = int(self.bus.r.incr(self.bus.key("ingest:epoch")))
                return
            if time.monotonic() > deadline:
                raise LeaseLost(f"worker {holder!r} holds the ingest lease; stop it or wait "
                                f"{self.lease_ms / 1000:.0f} s after it died")
            time.sleep(0.2)

    def _load(self) -> None:
        r, now = self.bus.r, self.clock()
        meta = {k.decode(): v.decode() for k, v in r.hgetall(self.bus.key("state:meta")).items()}
        if meta and (meta.get("signature") != S.signature() or meta.get("cells") != self.cells_hash):
            raise WorkerError(f"the live state under prefix {self.bus.prefix!r} belongs to another "
                            f"twin or layer layout: use another prefix or clear it with "
                            f"`layers.worker.reset(bus)`")
        for k in self.totals:
            if k in meta:
                self.totals[k] = type(self.totals[k])(float(meta[k]))
        self.publisher.version = int(meta.get("version", 0))
        blobs = r.hgetall(self.bus.key("state:minutes"))
        self.state.load({int(m): b for m, b in blobs.items()}, now)
        for hour in r.smembers(self.bus.key("state:idhours")):
            raw = r.get(self.bus.key(f"state:ids:{int(hour)}")) or b""
            h = np.frombuffer(raw, dtype=np.uint64)
            if len(h):
                self.ids.add(h, int(hour))
        self._id_hour = int(now // 3600)
        if self.history:
            from layers import history

            history.sync(self.bus.history_dir, self.state, self.twin.cell_ids)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: Callable[[], bool] = lambda: False, block_ms: int = 500) -> None:
        """Process entries until `stop()` is true; checkpoints on the way and at the end."""
        if not self.started:
            self.start()
        while not stop():
            self.step(block_ms)
        self._prefetch = False
        if self._inflight:  # entries already delivered to us: process them too
            self.step(0)
        self.checkpoint(force_publish=True)

    def drain(self, idle_reads: int = 1, stop: Callable[[], bool] = lambda: False) -> None:
        """Process until a read returns nothing (or `stop()`), then checkpoint."""
        if not self.started:
            self.start()
        idle = 0
        while idle < idle_reads and not stop():
            idle = 0 if self.step(block_ms=0) else idle + 1
        self.checkpoint(force_publish=True)

    def step(self, block_ms: int = 500) -> int:
        """One read + process (+ checkpoint when due); the number of entries read."""
        entries = self._read(block_ms)
        n = 0
        for stream, items in entries:
            n += len(items)
            self.process(self.streams[stream], stream, items)
        due = time.monotonic() - self._last_ckpt >= self.checkpoint_s or self._since >= 500_000
        if n == 0 and (self._dirty() or self.state.touched.any()):
            self.checkpoint(force_publish=True)
        elif due:
            self.checkpoint()
        return n

    def _dirty(self) -> bool:
        return bool(self._since or self._dead or any(self._acks.values()) or self.state.dirty)

    def _read(self, block_ms: int) -> list:
        while self._claiming:  # first the entries pending from an earlier life or a dead worker
            out = []
            for stream in list(self._claiming):
                res = self.bus.r.xautoclaim(stream, GROUP, self.consumer, 0,
                                            self._claiming[stream], count=self.count)
                nxt = res[0].decode() if isinstance(res[0], bytes) else str(res[0])
                items = [(eid, [x for kv in f.items() for x in kv]) for eid, f in res[1]
                         if eid is not None and f is not None]
                if nxt in ("0-0", "0"):
                    del self._claiming[stream]
                else:
                    self._claiming[stream] = nxt
                if items:
                    out.append((stream, items))
            if out:
                return out
        if not self._inflight:
            self._send_read(block_ms)
        res = self._recv_read()
        if res and self._prefetch:  # ask for more now: Redis prepares them while we process
            self._send_read(block_ms)
        return res

    def _send_read(self, block_ms: int) -> None:
        args = ["XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", self.count]
        if block_ms:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", *self.streams, *([">"] * len(self.streams))]
        if self._conn is None:
            self._conn = self.bus.r.connection_pool.make_connection()
        self._conn.send_command(*args)
        self._inflight = True

    def _recv_read(self) -> list:
        self._inflight = False
        res = self._conn.read_response() or []  # raw reply: no per-entry dicts
        pairs = res.items() if isinstance(res, dict) else res  # RESP3 map or RESP2 array
        return [(s.decode() if isinstance(s, bytes) else s, items) for s, items in pairs]

    # -- processing -------------------------------------------------------------------------
    def process(self, kind: str, stream: str, items: list) -> None:
        """Validate, dedup and apply a list of (entry id, fields) of one stream."""
        now = self.clock()
        self.state.tick(now)
        self._acks[stream].extend(eid for eid, _ in items)
        fields = [f for _, f in items]
        dead_before = len(self._dead)
        groups, arrows = split_entries(fields)
        parts = [self._validate(kind, stream, cols, items, rows) for cols, rows in groups]
        for i in arrows:
            try:
                f = fields[i]
                blob = f[f.index(b"arrow") + 1]
                table = pa.ipc.open_stream(blob).read_all()
            except (pa.ArrowException, OSError, ValueError, IndexError, TypeError) as exc:
                self._dead_letter(stream, items[i], f"broken Arrow batch: {exc}")
                continue
            parts.append(self._validate(kind, stream, ArrowColumns(table), items, i))
        # Arrow entries hold many events: read fewer entries at a time to bound memory
        rows = sum(len(p) for p in parts) + len(self._dead) - dead_before
        self._batch_rows = 0.5 * self._batch_rows + 0.5 * rows / max(len(items), 1)
        self.count = max(4, min(self.max_count, int(READ_EVENTS / max(self._batch_rows, 1.0))))
        ev = Events.concat(kind, parts)
        if len(ev):
            new = self.ids.add(ev.h, (ev.ts // 3600).astype(np.int32))
            if not new.all():
                self.totals["duplicates"] += int(len(ev) - new.sum())
                ev = ev.take(new)
            self._new_ids.append((ev.h, (ev.ts // 3600).astype(np.int64)))
            self.state.apply(ev)
            self.totals["counted"] += len(ev)
            self.totals[f"counted_{kind}"] += len(ev)
            self._since += len(ev)
            if len(ev):
                self.totals["last_event_ts"] = max(self.totals["last_event_ts"], float(ev.ts.max()))

    def _validate(self, kind, stream, cols, items, where) -> Events:
        try:
            ev, bad, reasons = validate(kind, cols, self.twin, self.clock(), self.points)
        except Exception:  # noqa: BLE001 - input must never kill the worker: isolate the row
            parts, bad, reasons = [], [], []
            for i in range(cols.n):
                try:
                    one, b, r = validate(kind, cols.take_row(i), self.twin, self.clock())
                    parts.append(one)
                    if len(b):
                        bad.append(i)
                        reasons.append(r[0])
                except Exception as exc:  # noqa: BLE001
                    bad.append(i)
                    reasons.append(f"unreadable event: {type(exc).__name__}: {exc}")
            ev, bad = Events.concat(kind, parts), np.array(bad, dtype=np.int64)
        for i, reason in zip(bad.tolist(), reasons, strict=True):
            if isinstance(where, int):  # a row of an Arrow batch
                self._dead_letter(stream, items[where], reason, cols.row(i), row=i)
            else:
                self._dead_letter(stream, items[int(where[i])], reason, cols.row(i))
        return ev

    def _dead_letter(self, stream, entry, reason, fields=None, row=None) -> None:
        eid, raw = entry
        if fields is None:
            raw = raw or []
            fields = {k.decode("utf-8", "replace"): v for k, v in zip(raw[0::2], raw[1::2],
                                                                        strict=False)}
        record = dict(fields)
        record.update({"reason": reason, "stream": stream,
                       "entry": eid.decode() if isinstance(eid, bytes) else str(eid)})
        if row is not None:
            record["row"] = str(row)
        self._dead.append(record)
        self.totals["dead"] += 1

    # -- checkpoint -------------------------------------------------------------------------
    def checkpoint(self, force_publish: bool = False) -> None:
        """Write state, ids, dead letters, counters, snapshot and XACKs in one transaction."""
        now = self.clock()
        ticked = self.state.tick(now)
        force_publish = force_publish or ticked or self.publisher.version == 0
        if not (self._dirty() or ticked or self.publisher.version == 0
                or (force_publish and self.state.touched.any())):
            self._heartbeat(now)
            return
        elapsed = max(time.monotonic() - self._last_ckpt, 1e-6)
        rate = self._since / elapsed
        key = self.bus.key
        with self.bus.r.pipeline(transaction=True) as pipe:
            try:
                self._check_lease(pipe)
                pipe.multi()
                pipe.set(key("ingest:lease"), self.token, px=self.lease_ms)
                self._queue_state(pipe, now)
                for record in self._dead:
                    pipe.xadd(self.bus.dead, record, maxlen=DEAD_MAXLEN, approximate=True)
                for stream, ids in self._acks.items():
                    if ids:
                        pipe.xack(stream, GROUP, *ids)
                self.publisher.publish(pipe, self.state, now, force=force_publish)
                meta = {k: repr(v) if isinstance(v, float) else v for k, v in self.totals.items()}
                meta.update({"signature": S.signature(), "cells": self.cells_hash,
                             "version": self.publisher.version, "rate": f"{rate:.1f}",
                             "consumer": self.consumer, "heartbeat": repr(now)})
                pipe.hset(key("state:meta"), mapping=meta)
                pipe.execute()
            except redis.WatchError as exc:
                raise LeaseLost(f"worker {self.consumer!r} lost the ingest lease") from exc
        self.state.dirty.clear()
        self.state.removed.clear()
        self._reset_pending()
        self._last_ckpt = time.monotonic()
        if self.history and self.state.closed_now:
            from layers import history

            for m in sorted(set(self.state.closed_now)):
                bucket = self.state.bucket(m)
                if bucket is not None:
                    history.write_minute(self.bus.history_dir, m, bucket, self.twin.cell_ids)
            self.state.closed_now.clear()

    def _queue_state(self, pipe, now: float) -> None:
        key = self.bus.key
        for m in self.state.dirty:
            blob = self.state.minute_blob(m)
            if blob is not None:
                pipe.hset(key("state:minutes"), str(m), blob)
        for m in self.state.removed:
            pipe.hdel(key("state:minutes"), str(m))
        if self._new_ids:
            h = np.concatenate([a for a, _ in self._new_ids])
            hours = np.concatenate([b for _, b in self._new_ids])
            for hour in np.unique(hours).tolist():
                pipe.append(key(f"state:ids:{hour}"), h[hours == hour].tobytes())
                pipe.sadd(key("state:idhours"), hour)
        hour_now = int(now // 3600)
        if hour_now != self._id_hour:
            oldest = hour_now - 26
            for hour in [int(x) for x in self.bus.r.smembers(key("state:idhours"))]:
                if hour < oldest:
                    pipe.delete(key(f"state:ids:{hour}"))
                    pipe.srem(key("state:idhours"), hour)
            self.ids.drop_older(oldest)
            self._id_hour = hour_now

    def _check_lease(self, pipe) -> None:
        """WATCH the lease; fail unless it is ours (or lapsed with nobody taking it since)."""
        key = self.bus.key
        pipe.watch(key("ingest:lease"), key("ingest:epoch"))
        holder = (pipe.get(key("ingest:lease")) or b"").decode()
        if int(pipe.get(key("ingest:epoch")) or 0) != self.epoch or holder not in ("", self.token):
            raise LeaseLost(f"worker {self.consumer!r} lost the ingest lease to {holder!r}")

    def _heartbeat(self, now: float) -> None:
        with self.bus.r.pipeline(transaction=True) as pipe:
            try:
                self._check_lease(pipe)
                pipe.multi()
                pipe.set(self.bus.key("ingest:lease"), self.token, px=self.lease_ms)
                pipe.hset(self.bus.key("state:meta"),
                          mapping={"heartbeat": repr(now), "rate": "0.0"})
                pipe.execute()
            except redis.WatchError as exc:
                raise LeaseLost(f"worker {self.consumer!r} lost the ingest lease") from exc
        self._last_ckpt = time.monotonic()

    def close(self) -> None:
        """Close the worker's own read connection (after `run`/`drain`)."""
        if self._conn is not None:
            self._conn.disconnect()
            self._conn, self._inflight = None, False

    def release(self) -> None:
        """Give the lease up (after a final checkpoint) so a successor starts at once."""
        key = self.bus.key("ingest:lease")
        if (self.bus.r.get(key) or b"").decode() == self.token:
            self.bus.r.delete(key)


def reset(bus: Bus) -> None:
    """Delete the live state, snapshot and lease under the bus prefix (not the streams)."""
    keys = [bus.key(k) for k in ("state:meta", "state:minutes", "state:idhours", "snap:meta",
                                 "snap:cells", "snap:changes", "ingest:lease")]
    keys += [k for k in bus.r.scan_iter(match=bus.key("state:ids:*"))]
    keys += [k for k in bus.r.scan_iter(match=bus.key("snap:*"))]
    bus.r.delete(*keys)


def stats(bus: Bus) -> dict:
    """Health figures: events/s, lag and pending per stream, dead letters, last event time."""
    r = bus.r
    meta = {k.decode(): v.decode() for k, v in r.hgetall(bus.key("state:meta")).items()}
    out = {"consumer": meta.get("consumer"), "events_per_s": float(meta.get("rate", 0)),
           "counted": int(float(meta.get("counted", 0))), "dead": int(float(meta.get("dead", 0))),
           "duplicates": int(float(meta.get("duplicates", 0))),
           "last_event_ts": float(meta.get("last_event_ts", 0)) or None,
           "heartbeat": float(meta.get("heartbeat", 0)) or None,
           "dead_letters": r.xlen(bus.dead), "snapshot_version": int(meta.get("version", 0)),
           "streams": {}}
    for kind in S.KINDS:
        out["streams"][kind] = _stream_health(bus, kind)
    return out


def _stream_health(bus: Bus, kind: str) -> dict:
    stream, r = bus.stream(kind), bus.r
    info = {"length": r.xlen(stream), "pending": 0, "lag": None}
    try:
        groups = r.xinfo_groups(stream)
    except redis.ResponseError:
        return info
    for g in groups:
        name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        if name != GROUP:
            continue
        info["pending"] = int(g["pending"])
        if g.get("lag") is not None:
            info["lag"] = int(g["lag"])
        else:  # Redis < 7: count the undelivered entries on the server (capped)
            last = g["last-delivered-id"]
            last = last.decode() if isinstance(last, bytes) else last
            info["lag"] = int(r.eval(_COUNT_AFTER, 1, stream, f"({last}", LAG_CAP))
    return info
