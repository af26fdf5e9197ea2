"""The rules engine (`cityops rules run`): events and layers -> alerts -> cases.

`Engine.tick()` reads new video, incident and vehicle entries with its own consumer group `rules` (so it
never disturbs ingest), decodes them with THE decoder of the live pipeline (so it sees exactly
the events ingest counts; rows ingest dead-letters are skipped here), evaluates the event rules,
the parking watch and the layer rules (on the snapshots the ingest worker publishes), stores each
alert, opens or joins its case, and only then acknowledges the entries (at-least-once; event ids
already handled are skipped on redelivery). Escalation runs apart (`layers.loop.escalation`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import redis

from layers.clock import Clock, pause, wall
from layers.live import schema as S
from layers.live.bus import Bus, GroupReader
from layers.live.decode import Decoder
from layers.live.health import HealthStore
from layers.live.snapshot import SnapshotStore
from layers.loop.alerts import AlertStore
from layers.loop.cases import CaseStore
from layers.loop.intake import Intake
from layers.loop.notify import Outbox
from layers.loop.parking import ParkingWatch
from layers.loop.records import Alert
from layers.loop.routing import Router
from layers.loop.rules import RuleSet, Where
from layers.loop.rulestate import RuleStateStore
from layers.loop.whistle import EventWatch, LayerWatch, metres, read_layer
from twin import cells as h3cells

GROUP = "rules"
EVENT_KINDS = ("video", "incident", "vehicle")
CLAIM_EVERY_S = 30.0   # how often the engine takes over entries left pending by others
CLAIM_IDLE_MS = 60_000  # ... when they have been pending this long
log = logging.getLogger("cityops.rules")


def alert_id(alert: Alert) -> str:
    """A deterministic id: the same rule raised on the same events (or, for layer rules, the
    same cells from the same time) always gets the same id, so a replayed tick is a no-op."""
    if alert.events:
        basis = [alert.rule, *sorted(alert.events)]
    else:
        basis = [alert.rule, *map(str, alert.cells[:5]),
                 *(repr(e.get("since", e.get("reminded", ""))) for e in alert.evidence[:1])]
    digest = hashlib.sha1("\x1f".join(basis).encode()).hexdigest()[:16]
    return f"A{digest}"


def where_mask(twin, where: Where) -> np.ndarray | None:
    """Boolean per-cell mask of a rule's `where` (None = everywhere); errors name the bad value."""
    mask = None

    def both(m):
        return m if mask is None else mask & m

    if where.cells:
        pos = twin.positions(h3cells.from_hex(where.cells))
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
        self.state = RuleStateStore(bus)
        self.snapshots = SnapshotStore(bus)
        self.decoder = Decoder(twin)
        cams = twin.cameras
        camera_kinds = dict(zip(cams["id"].astype(str), cams["kind"].astype(str),
                                strict=True)) if len(cams) else {}
        self.layer_watches, self.event_watches = [], []
        for rule in ruleset.enabled():
            mask = where_mask(twin, rule.where)
            if rule.layer is not None:
                self.layer_watches.append(LayerWatch(self.state, twin, rule, mask))
            else:
                self.event_watches.append(EventWatch(self.state, twin, rule, mask, camera_kinds))
        self.parking = ParkingWatch(bus, twin, ruleset.parking, self.outbox) \
            if ruleset.parking else None
        self.labels = {lab for w in self.event_watches if w.rule.event.kind == "video"
                       for lab in (w.rule.event.labels or S.LABELS)}
        if self.parking:
            self.labels |= set(ruleset.parking.labels)
        # one reader per ingest partition: a partition's streams share a hash slot
        self.readers = [GroupReader(bus, GROUP, consumer, [bus.stream(k, p) for k in EVENT_KINDS],
                                    start_id) for p in bus.partitions()]
        self.streams = {bus.stream(k, p): k for p in bus.partitions() for k in EVENT_KINDS}
        # one transaction for the cases AND the acknowledgements when every key is on one
        # node; on a cluster the acks follow the commit (the handled ids make a replay a no-op)
        self.ack_in_commit = not bus.keys.cluster
        self.intake = Intake(self.store, self.alerts)
        self._claim = self._first_claim = True
        self._next_claim = time.monotonic() + CLAIM_EVERY_S
        self._failed = 0

    # -- reading ----------------------------------------------------------------------------------
    def _read(self) -> dict[str, list]:
        """Entries per stream: first those a previous life left pending, then new ones."""
        items: dict[str, list] = {s: [] for s in self.streams}
        if self._claim:  # entries a previous life (or a dead consumer) read but did not finish
            idle = 0 if self._first_claim else CLAIM_IDLE_MS
            for reader in self.readers:
                for stream, got in reader.claim(self.batch, idle).items():
                    items[stream] += got
            self._claim = self._first_claim = False
        while sum(len(v) for v in items.values()) < 10 * self.batch:
            got = {}
            for reader in self.readers:
                got.update(reader.read(self.batch))
            if not any(got.values()):
                break
            for stream, entries in got.items():
                items[stream] += entries
        return items

    def frames(self, items: dict[str, list], now: float) -> dict[str, pd.DataFrame]:
        """The valid events of each kind as frames (the rows ingest counts)."""
        parts: dict[str, list[pd.DataFrame]] = {k: [] for k in EVENT_KINDS}
        for stream, kind in self.streams.items():
            select = {"label": self.labels} if kind == "video" else \
                {"detection": set(S.DETECTIONS)} if kind == "vehicle" else None
            decoded = self.decoder.decode(kind, items[stream], now, S.KIND_FIELDS[kind], select)
            frame = decoded.frame
            if kind == "vehicle":  # a detection is a case category (schema.DETECTION_CATEGORY)
                frame = frame.assign(category=frame["detection"].map(S.DETECTION_CATEGORY)
                                     if "detection" in frame else [])
            parts[kind].append(frame)
        out = {}
        for kind, frames in parts.items():
            frames = [f for f in frames if len(f)]
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
                frames[0] if frames else pd.DataFrame(columns=["id", "ts", "lat", "lng", "pos"]))
            out[kind] = self._fresh(frame, now)
        return out

    def _fresh(self, frame: pd.DataFrame, now: float) -> pd.DataFrame:
        """Drop events already handled (redelivered entries, repeated ids within a batch)."""
        if frame.empty:
            return frame
        frame = frame.drop_duplicates("id")
        seen = self.state.seen(list(frame["id"]), int(now // 3600))
        return frame[~seen]

    # -- one tick ---------------------------------------------------------------------------------
    def tick(self) -> dict:
        """Read, evaluate, then commit in ONE transaction: cases, alerts, rule state, handled
        ids and the acknowledgements (so a crash anywhere leaves the tick undone, and its
        redelivery gives the same alerts with the same ids)."""
        now = self.clock()
        if time.monotonic() >= self._next_claim:  # entries a dead consumer left behind
            self._claim = True
            self._next_claim = time.monotonic() + CLAIM_EVERY_S
        items = self._read()
        frames = self.frames(items, now)
        raised = self.evaluate(frames, now)
        for alert in raised:
            alert.id = alert_id(alert)
        results = self._commit(raised, frames, items, now)
        entries = {k: 0 for k in EVENT_KINDS}
        for stream, got in items.items():
            entries[self.streams[stream]] += len(got)
        return {"time": now, "entries": entries,
                "alerts": [a.id for a, r in zip(raised, results, strict=True) if r[0]],
                "cases": [r[0] for r in results if r[0]], "failed": self._failed}

    def evaluate(self, frames: dict[str, pd.DataFrame], now: float) -> list[Alert]:
        """The alerts the rules raise on this tick's events and the current layers."""
        raised: list[Alert] = []
        for watch in self.event_watches:
            raised += self._safely(watch.rule.id, watch.evaluate,
                                   frames[watch.rule.event.kind], now)
        if self.parking is not None:
            raised += self._safely("parking", self.parking.update, frames["video"], now)
        cache: dict[tuple[str, str], np.ndarray | None] = {}
        for watch in self.layer_watches:
            spec = watch.rule.layer
            if (spec.name, spec.window) not in cache:
                cache[(spec.name, spec.window)] = read_layer(self.snapshots, spec.name,
                                                             spec.window, len(self.twin))
            values = cache[(spec.name, spec.window)]
            if values is not None:
                raised += self._safely(watch.rule.id, watch.evaluate, values, now)
        return raised

    def _commit(self, raised: list[Alert], frames: dict[str, pd.DataFrame], items: dict,
                now: float) -> list[tuple[str | None, bool]]:
        """Cases for the alerts plus the tick's bookkeeping, in one transaction. An alert whose
        case cannot be written is isolated (logged, counted) so the others still land."""
        handled = [i for f in frames.values() for i in f["id"]]
        acks = {s: [eid for eid, _ in v] for s, v in items.items()}

        def more(pipe) -> None:
            self.state.flush(pipe)
            self.state.queue_seen(pipe, handled, int(now // 3600))
            if self.ack_in_commit:
                self._queue_acks(pipe, acks)
            self.state.queue_heartbeat(pipe, now, self.consumer)

        pending = list(self.state.pending)
        try:
            results = self.intake.commit(raised, more)
            if not self.ack_in_commit:
                self._ack_after(acks)
            return results
        except (redis.RedisError, OSError):
            self.state.discard()  # Redis trouble: nothing was written, the tick is redone
            raise
        except Exception:  # noqa: BLE001 - find the alert at fault; the rest still land
            log.exception("the tick's commit failed; retrying its alerts one by one")
        results: list[tuple[str | None, bool]] = []
        for alert in raised:
            try:
                results += self.intake.commit([alert])
            except (redis.RedisError, OSError):
                self.state.discard()
                raise
            except Exception:  # noqa: BLE001 - one bad alert never aborts a tick
                log.exception("alert %s (rule %s) could not be turned into a case", alert.id,
                              alert.rule)
                self._failed += 1
                results.append((None, False))
        self.state.pending[:] = pending
        self.intake.commit([], more)
        if not self.ack_in_commit:
            self._ack_after(acks)
        return results

    def _queue_acks(self, pipe, acks: dict[str, list]) -> None:
        for reader in self.readers:
            reader.queue_ack(pipe, {s: acks[s] for s in reader.streams})

    def _ack_after(self, acks: dict[str, list]) -> None:
        """On a cluster: acknowledge after the commit, one partition's streams at a time."""
        for reader in self.readers:
            pipe = self.bus.pipeline(transaction=False)
            reader.queue_ack(pipe, {s: acks[s] for s in reader.streams})
            pipe.execute()

    def _safely(self, name: str, func: Callable, *args) -> list[Alert]:
        try:
            return func(*args)
        except Exception:  # noqa: BLE001 - one broken rule must not stop the others
            log.exception("rule %s failed this tick", name)
            return []

    def run(self, stop: Callable[[], bool] = lambda: False, interval_s: float = 5.0,
            on_tick: Callable[[dict], None] | None = None) -> None:
        """Tick every `interval_s` seconds (of wall time) until `stop()` is true.

        Redis trouble never ends the loop: the tick's writes were one transaction, so nothing
        half-done is left; the engine reloads its rule state and tries again with backoff.
        """
        health, delay = HealthStore(self.bus), 1.0
        health.report(self.consumer, "running")
        while not stop():
            started = time.monotonic()
            try:
                summary = self.tick()
                if on_tick:
                    on_tick(summary)
                if delay > 1.0:
                    health.report(self.consumer, "running")
                delay = 1.0
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("rules engine %s lost Redis (%s); retrying in %.0f s",
                            self.consumer, exc, delay)
                health.report(self.consumer, "reconnecting", str(exc))
                pause(delay, stop)
                delay = min(2 * delay, 30.0)
                self.reload()
                continue
            pause(interval_s - (time.monotonic() - started), stop)
        health.report(self.consumer, "stopped")

    def reload(self) -> None:
        """Forget in-memory rule state and re-read it (after a failed commit)."""
        self.state.discard()
        for watch in self.layer_watches:
            watch.since, watch.active = self.state.load_layer(watch.rule.id,
                                                              self.twin.fingerprint, watch.n)
        self._claim = self._first_claim = True
