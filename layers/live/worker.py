"""The ingest worker: consumer group `ingest` on the three event streams -> live layers.

Exactness under crashes: the worker holds a lease, keeps its state in memory, and at each
checkpoint writes, in ONE MULTI/EXEC guarded by the lease (WATCH), the changed minute buckets,
the new event-id hashes, the dead letters, the counters, the snapshot and the XACKs of every
entry processed since the previous checkpoint. A killed worker leaves its entries pending and
its state at the last checkpoint; the next worker loads that state and XAUTOCLAIMs the pending
entries, so each event is applied exactly once. Ids are deduplicated on 64-bit hashes.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable

import numpy as np
import redis

from layers.clock import pause
from layers.live import schema as S
from layers.live.bus import Bus, GroupReader
from layers.live.checkpoint import CheckpointStore, LeaseLost, WorkerError
from layers.live.decode import DeadRow, Decoder
from layers.live.health import HealthStore
from layers.live.idset import IdSet
from layers.live.partitions import Partitions
from layers.live.snapshot import Publisher, SnapshotStore
from layers.live.state import LiveState
from layers.live.validate import Events

GROUP = "ingest"
TRIM_EVERY_S = 60.0  # how often the worker trims acknowledged entries past the retention
LAG_CAP = 100_000  # Redis < 7 only: the lag is counted up to this many entries
READ_EVENTS = 400_000  # about this many events per read (per stream)
MAX_BACKOFF_S = 30.0
log = logging.getLogger("cityops.ingest")

__all__ = ["GROUP", "LeaseLost", "Worker", "WorkerError", "reset", "stats"]


class Worker:
    """One ingest worker; `run()` loops until stopped, `drain()` until the streams are empty."""

    def __init__(self, bus: Bus, twin, consumer: str | None = None,
                 clock: Callable[[], float] = time.time, count: int = 1000,
                 checkpoint_s: float = 0.5, lease_ms: int = 10_000, history: bool = True,
                 partition: int | None = None, partitions: Partitions | None = None) -> None:
        """One worker for one ingest partition (`partition` None: the only one; else the
        partition number and the `partitions` layout, see layers.live.producer)."""
        self.bus, self.twin, self.clock = bus, twin, clock
        self.partition = partition
        layout = partitions or Partitions.of(twin, 1)
        self.lo, self.hi = layout.block(partition or 0)
        self.consumer = consumer or f"worker-{os.getpid()}"
        self.token = f"{self.consumer}|{uuid.uuid4().hex[:12]}"
        self.count, self.checkpoint_s, self.lease_ms = count, checkpoint_s, lease_ms
        self.max_count = count
        self._batch_rows = 1.0  # running mean of events per entry
        self.history = history
        self.n = self.hi - self.lo
        self._prefetch = True
        self.streams = {bus.stream(k, partition): k for k in S.KINDS}
        self.decoder = Decoder(twin)
        self.reader: GroupReader | None = None  # made by start(), which creates the groups
        self.store = CheckpointStore(bus, partition)
        self.health = HealthStore(bus)
        self.cells_hash = twin.fingerprint
        self._fresh_state()
        from twin.settings import number

        self.retention_s = number("CITYOPS_STREAM_RETENTION_S", 86_400.0)
        self._next_trim = time.monotonic() + TRIM_EVERY_S

    def _fresh_state(self) -> None:
        """Empty in-memory state: what `start` fills from the last checkpoint."""
        self.state = LiveState(self.n)
        self.ids = IdSet(1 << 20)
        self.publisher = Publisher(self.bus, self.twin.cell_ids[self.lo:self.hi], self.lo,
                                   len(self.twin))
        self.totals: dict = {"counted": 0, "dead": 0, "duplicates": 0, "last_event_ts": 0.0}
        self.totals.update({f"counted_{k}": 0 for k in S.KINDS})
        self._reset_pending()
        self._claiming = {s: "0-0" for s in self.streams}
        self._last_ckpt = time.monotonic()
        self._id_hour = None
        self.epoch = -1
        self.started = False

    @property
    def history_dir(self):
        """Where this partition's closed minutes go (one folder per partition)."""
        base = self.bus.history_dir
        return base if self.partition is None else base / f"p{self.partition}"

    def step_back(self) -> None:
        """Drop everything not checkpointed (its entries stay pending in Redis) and the read
        connection; the next `start` reloads the last checkpoint, so nothing counts twice."""
        if self.reader is not None:
            try:
                self.reader.close()
            except (redis.RedisError, OSError):
                pass
        self._fresh_state()

    def _reset_pending(self) -> None:
        self._acks: dict[str, list] = {s: [] for s in self.streams}
        self._dead: list[dict] = []  # dead-letter records to write at the next checkpoint
        self._new_ids: list[tuple[np.ndarray, np.ndarray]] = []
        self._since = 0

    # -- start-up ---------------------------------------------------------------------------
    def start(self, wait_s: float = 60.0) -> None:
        """Create the groups, take the lease, load the last checkpoint."""
        self.reader = GroupReader(self.bus, GROUP, self.consumer, list(self.streams))
        self._acquire(wait_s)
        self._load()
        self.started = True

    def _acquire(self, wait_s: float) -> None:
        self.epoch = self.store.acquire(self.consumer, self.token, self.lease_ms, wait_s)

    def _load(self) -> None:
        now = self.clock()
        saved = self.store.load()
        self.store.check_layout(saved.meta, self.cells_hash)
        for k in self.totals:
            if k in saved.meta:
                self.totals[k] = type(self.totals[k])(float(saved.meta[k]))
        self.state.load(saved.minutes, now)
        for hour, h in saved.ids.items():
            if len(h):
                self.ids.add(h, hour)
        self._id_hour = int(now // 3600)
        if self.history:
            from layers.live import history

            history.sync(self.history_dir, self.state, self.twin.cell_ids[self.lo:self.hi])

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: Callable[[], bool] = lambda: False, block_ms: int = 500,
            standby_s: float = 1.0) -> None:
        """Process entries until `stop()` is true; checkpoints on the way and at the end.

        Never ends for Redis trouble: a lost lease makes the worker step back and stand by
        until it can take the lease again; a lost connection (Redis restarting) makes it step
        back and reconnect with backoff. Either way it reloads the last checkpoint, so counts
        stay exact.
        """
        delay = standby_s
        while not stop():
            try:
                if not self.started:
                    self.health.report(self.consumer, "starting")
                    self.start(wait_s=block_ms / 1000.0)
                    self.health.report(self.consumer, "running")
                    delay = standby_s
                self.step(block_ms)
            except LeaseLost as exc:
                log.warning("%s; standing by to take the lease again", exc)
                self.step_back()
                self.health.report(self.consumer, "standby", str(exc))
                pause(delay, stop)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("worker %s lost Redis (%s); reconnecting in %.0f s", self.consumer,
                            exc, delay)
                self.step_back()
                self.health.report(self.consumer, "reconnecting", str(exc))
                pause(delay, stop)
                delay = min(delay * 2, MAX_BACKOFF_S)
        if self.started:
            self._prefetch = False
            if self.reader.inflight:  # entries already delivered to us: process them too
                self.step(0)
            self.checkpoint(force_publish=True)
            self.health.report(self.consumer, "stopped")

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
        if time.monotonic() >= self._next_trim:
            self.trim()
        return n

    def trim(self) -> int:
        """Drop stream entries past the retention that every group has acknowledged."""
        self._next_trim = time.monotonic() + TRIM_EVERY_S
        now = self.clock()
        return sum(self.bus.trim_acknowledged(s, self.retention_s, now) for s in self.streams)

    def _dirty(self) -> bool:
        return bool(self._since or self._dead or any(self._acks.values()) or self.state.dirty)

    def _read(self, block_ms: int) -> list:
        while self._claiming:  # first the entries pending from an earlier life or a dead worker
            out = []
            for stream in list(self._claiming):
                nxt, items = self.reader.claim_step(stream, self._claiming[stream], self.count)
                if nxt in ("0-0", "0"):
                    del self._claiming[stream]
                else:
                    self._claiming[stream] = nxt
                if items:
                    out.append((stream, items))
            if out:
                return out
        if not self.reader.inflight:
            self.reader.send(self.count, block_ms)
        res = self.reader.receive()
        if res and self._prefetch:  # ask for more now: Redis prepares them while we process
            self.reader.send(self.count, block_ms)
        return res

    # -- processing -------------------------------------------------------------------------
    def process(self, kind: str, stream: str, items: list) -> None:
        """Decode, dedup and apply a list of (entry id, fields) of one stream."""
        now = self.clock()
        self.state.tick(now)
        self._acks[stream].extend(eid for eid, _ in items)
        decoded = self.decoder.decode(kind, items, now)
        ev = decoded.events
        if self.partition is not None:  # positions of this block only; the rest was misrouted
            mine = (ev.pos >= self.lo) & (ev.pos < self.hi)
            if not mine.all():
                decoded.dead += misrouted(items, ev, mine, self.partition)
                ev = ev.take(mine)
            ev.pos = ev.pos - self.lo
        for dead in decoded.dead:
            self._dead.append(dead.record(stream, self.decoder.limits.dead_excerpt))
        self.totals["dead"] += len(decoded.dead)
        # Arrow entries hold many events: read fewer entries at a time to bound memory
        self._batch_rows = 0.5 * self._batch_rows + 0.5 * decoded.rows / max(len(items), 1)
        self.count = max(4, min(self.max_count, int(READ_EVENTS / max(self._batch_rows, 1.0))))
        self._apply(kind, ev)

    def _apply(self, kind: str, ev: Events) -> None:
        if not len(ev):
            return
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

    # -- checkpoint -------------------------------------------------------------------------
    def checkpoint(self, force_publish: bool = False) -> None:
        """Write state, ids, dead letters, counters, snapshot and XACKs in one transaction."""
        now = self.clock()
        ticked = self.state.tick(now)
        never = not self.publisher.prev  # nothing published in this life yet
        force_publish = force_publish or ticked or never
        if not (self._dirty() or ticked or never
                or (force_publish and self.state.touched.any())):
            self._heartbeat(now)
            return
        elapsed = max(time.monotonic() - self._last_ckpt, 1e-6)
        rate = self._since / elapsed
        with self.store.transaction(self.consumer, self.token, self.epoch, self.lease_ms) as pipe:
            self._queue_state(pipe, now)
            self.bus.queue_dead(pipe, self._dead, self.partition)
            for stream, ids in self._acks.items():
                self.bus.queue_ack(pipe, stream, GROUP, ids)
            meta = {k: repr(v) if isinstance(v, float) else v for k, v in self.totals.items()}
            meta.update({"signature": S.signature(), "cells": self.cells_hash,
                         "rate": f"{rate:.1f}", "consumer": self.consumer,
                         "heartbeat": repr(now)})
            self.store.queue_meta(pipe, meta)
        # the snapshot is derived from the state just committed: written after it (its own
        # hash slot on a cluster); a crash in between is repaired by the next worker's first,
        # full publish
        self.publisher.publish(self.state, now, force=force_publish)
        self.state.dirty.clear()
        self.state.removed.clear()
        self._reset_pending()
        self._last_ckpt = time.monotonic()
        if self.history and self.state.closed_now:
            from layers.live import history

            for m in sorted(set(self.state.closed_now)):
                bucket = self.state.bucket(m)
                if bucket is not None:
                    history.write_minute(self.history_dir, m, bucket,
                                         self.twin.cell_ids[self.lo:self.hi])
            self.state.closed_now.clear()

    def _queue_state(self, pipe, now: float) -> None:
        blobs = {m: b for m in self.state.dirty if (b := self.state.minute_blob(m)) is not None}
        self.store.queue_minutes(pipe, blobs, list(self.state.removed))
        totals = {m: t for m in self.state.dirty if (t := self.state.kind_totals(m)) is not None}
        self.store.queue_totals(pipe, totals, list(self.state.removed))
        if self._new_ids:
            h = np.concatenate([a for a, _ in self._new_ids])
            hours = np.concatenate([b for _, b in self._new_ids])
            self.store.queue_ids(pipe, h, hours)
        hour_now = int(now // 3600)
        if hour_now != self._id_hour:
            oldest = hour_now - 26
            self.store.queue_drop_ids_before(pipe, oldest)
            self.ids.drop_older(oldest)
            self._id_hour = hour_now

    def _heartbeat(self, now: float) -> None:
        with self.store.transaction(self.consumer, self.token, self.epoch, self.lease_ms) as pipe:
            self.store.queue_meta(pipe, {"heartbeat": repr(now), "rate": "0.0"})
        self._last_ckpt = time.monotonic()

    def close(self) -> None:
        """Close the worker's own read connection (after `run`/`drain`)."""
        if self.reader is not None:
            self.reader.close()

    def release(self) -> None:
        """Give the lease up (after a final checkpoint) so a successor starts at once."""
        self.store.release(self.token)


def misrouted(items: list, ev: Events, mine: np.ndarray, partition: int) -> list[DeadRow]:
    """Dead rows for valid events a producer put in another partition's stream."""
    reason = (f"the event's cell belongs to another ingest partition than {partition}: "
              f"route events with layers.live.producer.Producer")
    entry = items[0][0] if items else b"?"
    return [DeadRow(entry.decode() if isinstance(entry, bytes) else str(entry), reason,
                    {"pos": str(int(p))}) for p in ev.pos[~mine]]


def reset(bus: Bus) -> None:
    """Delete the live state, snapshot and lease under the bus prefix (not the streams)."""
    for p in bus.partitions():
        CheckpointStore(bus, p).clear()
    SnapshotStore(bus).clear()


def stats(bus: Bus) -> dict:
    """Health figures (summed over the partitions): events/s, lag and pending per stream, dead
    letters, last event time, memory, the health of every long-running part."""
    metas = [CheckpointStore(bus, p).meta() for p in bus.partitions()]

    def total(name: str) -> float:
        return sum(float(m.get(name, 0)) for m in metas)

    out = {"consumer": ",".join(sorted({m["consumer"] for m in metas if m.get("consumer")}))
           or None, "partitions": len(metas), "events_per_s": total("rate"),
           "counted": int(total("counted")), "dead": int(total("dead")),
           "duplicates": int(total("duplicates")),
           "last_event_ts": max((float(m.get("last_event_ts", 0)) for m in metas),
                                default=0.0) or None,
           "heartbeat": max((float(m.get("heartbeat", 0)) for m in metas), default=0.0) or None,
           "dead_letters": bus.dead_count(), "snapshot_version": SnapshotStore(bus).version(),
           "memory": bus.memory(), "health": HealthStore(bus).summary(), "streams": {}}
    for kind in S.KINDS:
        out["streams"][kind] = _stream_health(bus, kind)
    return out


def _stream_health(bus: Bus, kind: str) -> dict:
    info = {"length": bus.length(kind), "pending": 0, "lag": 0}
    for p in bus.partitions():
        group = bus.group_info(bus.stream(kind, p), GROUP)
        if group is None:
            continue
        info["pending"] += group["pending"]
        lag = group["lag"] if group["lag"] is not None else bus.count_after(
            bus.stream(kind, p), group["last_delivered"], LAG_CAP)  # Redis < 7: counted
        info["lag"] += lag
    return info
