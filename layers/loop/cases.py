"""Cases (work orders): alerts open or join cases, routed to departments and grids, with SLAs.

`CaseStore` owns the key family `cases:*` (see layers.keys). A case's state is folded from its
audit records (`layers.loop.lifecycle.fold`): every transition is an attributed, timestamped
audit record, and the JSON view in `cases:state` plus the indexes are written in the same
transaction as the record. Indexes make the common questions cheap: open cases of a department,
cases of a grid or status, `cases:deadline` (overdue now = score <= now), `cases:escalate` (open
cases that can still climb) and per category a GEO set of open cases that finds the open case a
new alert belongs to in one GEOSEARCH. Escalation runs as its own service
(`layers.loop.escalation`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from layers.clock import Clock, wall
from layers.live.bus import Bus
from layers.loop import sla as sla_mod
from layers.loop.audit import AuditLog
from layers.loop.lifecycle import (
    ACTIONS,
    LEVELS,
    OPEN,
    STATUSES,
    CaseError,
    check,
    fold,
)
from layers.loop.notify import Outbox
from layers.loop.records import Alert, Case
from layers.loop.routing import Router

COMMAND = "command"  # the district command centre's department id
ORDERS = ("newest", "urgent")
GEO_LAT = 85.05112878  # Redis GEO scores: 52-bit interleaved geohash over these ranges


def geohash_decode(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lng) of Redis GEO scores (the centre of each 52-bit geohash cell, as GEOPOS)."""
    bits = np.asarray(scores, dtype=np.float64).astype(np.uint64)
    lat_i = np.zeros(len(bits), np.uint64)
    lng_i = np.zeros(len(bits), np.uint64)
    one = np.uint64(1)
    for i in range(26):  # latitude bits at even positions, longitude at odd ones
        lat_i |= ((bits >> np.uint64(2 * i)) & one) << np.uint64(i)
        lng_i |= ((bits >> np.uint64(2 * i + 1)) & one) << np.uint64(i)
    cell = 1.0 / (1 << 26)
    lat = -GEO_LAT + (lat_i.astype(float) + 0.5) * cell * 2 * GEO_LAT
    lng = -180.0 + (lng_i.astype(float) + 0.5) * cell * 360.0
    return lat, lng

__all__ = ["ACTIONS", "COMMAND", "OPEN", "ORDERS", "STATUSES", "CaseError", "CaseStore"]


TIMING_COLUMNS = ["id", "created", "accepted_at", "resolved_at", "reopened", "accept_s",
                  "resolve_s", "grid", "departments"]


def timing_row(case: Case) -> list:
    """What the scorecards read of a case (TIMING_COLUMNS; resolved_at is the first resolution),
    kept beside the view so a period's scorecards do not decode every case."""
    return [case.id, case.created, case.accepted_at, case.first_resolved_at,
            case.reopen_count > 0, case.sla.seconds("accept"), case.sla.seconds("resolve"),
            case.place.grid_id, list(case.departments)]


class CaseStore:
    """Cases in Redis: open/merge from alerts, act, list; the case views and their indexes."""

    def __init__(self, bus: Bus, router: Router | None, clock: Clock = wall,
                 outbox: Outbox | None = None, lang: str = "zh") -> None:
        """`router` may be None for tools that only read and act (no new cases)."""
        self.bus, self.router, self.clock = bus, router, clock
        self.redis, self.keys = bus.redis, bus.keys
        self.categories = router.categories if router is not None else sla_mod.default()
        self.audit = AuditLog(bus)
        self.outbox = outbox or Outbox(bus)
        self.lang = lang

    def _k(self, name: str) -> str:
        return self.keys.cases(name)

    # -- reading ---------------------------------------------------------------------------------
    def get(self, case_id: str) -> Case | None:
        raw = self.redis.hget(self._k("state"), case_id)
        return Case.from_json(raw) if raw else None

    def many(self, ids) -> list[Case]:
        ids = list(ids)
        if not ids:
            return []
        return [Case.from_json(r) for r in self.redis.hmget(self._k("state"), ids) if r]

    def scan(self, batch: int = 1000) -> Iterator[tuple[str, Case | None]]:
        """Every stored case view as (id, Case), None where the view is not readable."""
        for cid, raw in self.redis.hscan_iter(self._k("state"), count=batch):
            try:
                yield cid.decode(), Case.from_json(raw)
            except (ValueError, KeyError, TypeError):
                yield cid.decode(), None

    def history(self, case_id: str) -> list[dict]:
        return self.audit.for_subject(case_id)

    def timings(self, ids: list[str]) -> list[list]:
        """`timing_row` of each case that exists, from the timing index; a case written before
        that index existed is read from its view."""
        ids = list(ids)
        raws = self.redis.hmget(self._k("timing"), ids) if ids else []
        older = {c.id: timing_row(c) for c in self.many(
            [i for i, r in zip(ids, raws, strict=True) if r is None])}
        return [json.loads(r) if r is not None else older[i]
                for i, r in zip(ids, raws, strict=True) if r is not None or i in older]

    def rebuild(self, case_id: str) -> Case | None:
        """The state folded afresh from the audit log (what `get` must equal)."""
        case = None
        for rec in self.history(case_id):
            case = fold(case, rec)
        return case

    def by_event(self, event_id: str) -> str | None:
        raw = self.redis.hget(self._k("by_event"), event_id)
        return raw.decode() if raw else None

    def list(self, status: str | None = None, department: str | None = None,
             grid: int | None = None, open_only: bool = False, overdue: bool = False,
             limit: int = 200, offset: int = 0, **more) -> list[Case]:
        """Cases matching every filter given, newest first (`offset` newest skipped); `more`
        takes the other filters and the order of `ids`."""
        ids = self.ids(status, department, grid, open_only, overdue, **more)
        return self.many(ids[offset:offset + limit])

    def ids(self, status: str | None = None, department: str | None = None,
            grid: int | None = None, open_only: bool = False, overdue: bool = False,
            category: str | None = None, grids: Iterable[int] | None = None,
            order: str = "newest", until: float | None = None) -> list[str]:
        """Ids of the cases matching every filter given: `grids` keeps the cases of any of those
        grids, `until` those opened at or before it (a stable list while new cases arrive).
        Order `newest` (opening time, newest first) or `urgent` (the soonest deadline first,
        overdue ones first; cases without a deadline after, newest first)."""
        if status is not None and status not in STATUSES:
            raise CaseError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        if order not in ORDERS:
            raise CaseError(f"unknown order {order!r}: use one of {', '.join(ORDERS)}")
        sets = []
        if status:
            sets.append(self._k(f"status:{status}"))
        if department:
            sets.append(self._k(f"{'open:' if open_only else ''}dept:{department}"))
        elif open_only:
            sets.append(self._k("open"))
        if grid is not None:
            sets.append(self._k(f"grid:{int(grid)}"))
        if category:
            sets.append(self._k(f"category:{category}"))
        if overdue:
            ids = self.overdue()
            if sets:
                keep = {i.decode() for i in self.redis.sinter(sets)}
                ids = [i for i in ids if i in keep]
        elif sets:
            ids = [i.decode() for i in self.redis.sinter(sets)]
        else:
            ids = [i.decode() for i in self.redis.zrevrange(self._k("created"), 0, -1)]
        if grids is not None:
            pipe = self.redis.pipeline(transaction=False)
            for g in sorted({int(g) for g in grids}):
                pipe.smembers(self._k(f"grid:{g}"))
            mine = {i.decode() for members in pipe.execute() for i in members}
            ids = [i for i in ids if i in mine]
        if not ids:
            return []
        created = [c or 0.0 for c in self.redis.zmscore(self._k("created"), ids)]
        rows = [(c, i) for c, i in zip(created, ids, strict=True) if until is None or c <= until]
        if order == "urgent":
            due = self.redis.zmscore(self._k("deadline"), [i for _, i in rows]) if rows else []
            keyed = sorted(zip(due, rows, strict=True), key=lambda p: (
                p[0] is None, p[0] or 0.0, -p[1][0], p[1][1]))
            return [i for _, (_, i) in keyed]
        return [i for _, i in sorted(rows, key=lambda p: (-p[0], p[1]))]

    def newer_than(self, ts: float, **filters) -> int:
        """How many cases matching the filters were opened after `ts` (the "12 new" count)."""
        fresh = {i.decode() for i in self.redis.zrangebyscore(self._k("created"), f"({ts}",
                                                               "+inf")}
        if not fresh:
            return 0
        return len(fresh & set(self.ids(**filters)))

    def categories_seen(self) -> list[str]:
        """Every category a case was opened in, sorted."""
        return sorted(c.decode() for c in self.redis.smembers(self._k("categories")))

    def open_points(self) -> dict[str, np.ndarray]:
        """Every open case's id, category, lat, lng and next deadline (NaN: none), read from the
        GEO sets and the deadline index: no case view is parsed, so a map of 10,000 open cases
        stays cheap."""
        cats = self.categories_seen()
        pipe = self.redis.pipeline(transaction=False)
        for c in cats:
            pipe.zrange(self._k(f"open:geo:{c}"), 0, -1, withscores=True)
        ids, cat_of, scores = [], [], []
        for c, members in zip(cats, pipe.execute(), strict=True):
            ids += [m.decode() for m, _ in members]
            cat_of += [c] * len(members)
            scores += [s for _, s in members]
        lat, lng = geohash_decode(np.array(scores, dtype=np.float64))
        due = self.redis.zmscore(self._k("deadline"), ids) if ids else []
        return {"id": np.array(ids, dtype=object), "category": np.array(cat_of, dtype=object),
                "lat": lat, "lng": lng,
                "deadline": np.array([np.nan if d is None else d for d in due], dtype=float)}

    def day_figures(self, since: float, now: float) -> dict[str, int]:
        """Cases opened since `since`, of them still open, cases resolved since then, and open
        cases overdue now: the wall's figures of the day."""
        opened = [i.decode() for i in self.redis.zrangebyscore(self._k("created"), since, now)]
        still = sum(self.redis.smismember(self._k("open"), opened)) if opened else 0
        return {"opened": len(opened), "still_open": int(still),
                "resolved": int(self.redis.zcount(self._k("done"), since, now)),
                "overdue": int(self.redis.zcount(self._k("deadline"), "-inf", now))}

    def count_overdue(self, now: float) -> int:
        """Open cases past their next deadline now."""
        return int(self.redis.zcount(self._k("deadline"), "-inf", now))

    def department_counts(self, departments: Iterable[str], now: float) -> dict[str, tuple[int, int]]:
        """{department: (open cases, overdue ones)} from the indexes (no view parsed)."""
        deps = list(dict.fromkeys(departments))
        late = {i.decode() for i in self.redis.zrangebyscore(self._k("deadline"), "-inf", now)}
        pipe = self.redis.pipeline(transaction=False)
        for d in deps:
            pipe.smembers(self._k(f"open:dept:{d}"))
        out = {}
        for d, members in zip(deps, pipe.execute(), strict=True):
            ids = {m.decode() for m in members}
            if ids:
                out[d] = (len(ids), len(ids & late))
        return out

    def ensure_indexes(self, batch: int = 1000) -> int:
        """Index the category and resolution of case views written before those indexes
        existed (a no-op once every view is indexed); the number of views indexed."""
        if self.redis.exists(self._k("categories")) or not self.redis.hlen(self._k("state")):
            return 0
        done, pipe = 0, self.redis.pipeline(transaction=False)
        for cid, case in self.scan(batch):
            if case is None:
                continue
            pipe.sadd(self._k(f"category:{case.category}"), cid)
            pipe.sadd(self._k("categories"), case.category)
            if case.status in ("resolved", "closed") and case.resolved_at:
                pipe.zadd(self._k("done"), {cid: case.resolved_at})
            done += 1
        pipe.execute()
        return done

    def open_cases(self, grids: frozenset[int] | None = None, limit: int = 10_000) -> list[Case]:
        """Open cases, newest first: every one (`grids` None) or those of some grids."""
        if grids is None:
            return self.list(open_only=True, limit=limit)
        found = [c for g in sorted(grids) for c in self.list(open_only=True, grid=g, limit=limit)]
        return sorted(found, key=lambda c: -c.created)[:limit]

    def created_between(self, since: float, until: float) -> list[str]:
        """Ids of the cases opened in [since, until)."""
        return [i.decode() for i in self.redis.zrangebyscore(self._k("created"), since,
                                                             f"({until}")]

    def count_open(self) -> int:
        return int(self.redis.scard(self._k("open")))

    def overdue(self, now: float | None = None) -> list[str]:
        """Ids of open cases whose next deadline has passed."""
        now = self.clock() if now is None else now
        return [i.decode() for i in self.redis.zrangebyscore(self._k("deadline"), "-inf", now)]

    def reserve_ids(self, n: int) -> list[str]:
        """`n` new case ids (C000001, ...)."""
        if n <= 0:
            return []
        last = int(self.redis.incrby(self._k("seq"), n))
        return [f"C{i:06d}" for i in range(last - n + 1, last + 1)]

    def open_nearby(self, queries: list[tuple[str, float, float, float]]) -> list[list[str]]:
        """Per (category, lat, lng, radius m): open cases of that category within the radius,
        nearest first (one round trip for all)."""
        pipe = self.redis.pipeline(transaction=False)
        for category, lat, lng, radius in queries:
            if radius > 0:
                pipe.geosearch(self._k(f"open:geo:{category}"), longitude=lng, latitude=lat,
                               radius=radius, unit="m", sort="ASC")
        found = iter(pipe.execute())
        return [[i.decode() for i in next(found)] if q[3] > 0 else [] for q in queries]

    def due_for_escalation(self, now: float) -> list[str]:
        """Ids of open cases past their deadline that can still climb a level."""
        return [i.decode() for i in self.redis.zrangebyscore(self._k("escalate"), "-inf", now)]

    def forget_escalation(self, case_id: str) -> None:
        self.redis.zrem(self._k("escalate"), case_id)

    # -- writing ---------------------------------------------------------------------------------
    def write(self, case_id: str, action: str, actor: str, ts: float, data: dict,
              notify: Callable | None = None) -> Case:
        """Append one audit record for a case and update its view and indexes with it."""
        out: dict = {}

        def build(pipe) -> dict:
            raw = pipe.hget(self._k("state"), case_id)
            old = Case.from_json(raw) if raw else None
            if old is None and action != "open":
                raise CaseError(f"no case {case_id!r}: see `cityops cases list`")
            if old is not None and action not in ("merge", "open"):
                check(old, action)
            out["old"] = old
            return {**data, "action": action}

        def extra(pipe, record) -> None:
            new = fold(out["old"], record)
            out["new"] = new
            self._index(pipe, out["old"], new, record["data"].get("events", []))
            if notify:
                notify(pipe, new)

        self.audit.append("case", case_id, actor, ts, build, extra)
        return out["new"]

    def _index(self, pipe, old: Case | None, new: Case, events: list[str]) -> None:
        k, cid = self._k, new.id
        pipe.hset(k("state"), cid, new.to_json())
        pipe.hset(k("timing"), cid, json.dumps(timing_row(new), ensure_ascii=False))
        is_open = new.status in OPEN
        if old is None:
            pipe.zadd(k("created"), {cid: new.created})
            pipe.sadd(k(f"category:{new.category}"), cid)
            pipe.sadd(k("categories"), new.category)
            if new.place.grid >= 0:
                pipe.sadd(k(f"grid:{new.place.grid}"), cid)
        else:
            pipe.srem(k(f"status:{old.status}"), cid)
            for d in old.departments:
                pipe.srem(k(f"open:dept:{d}"), cid)
        pipe.sadd(k(f"status:{new.status}"), cid)
        if new.status == "resolved" and (old is None or old.status != "resolved"):
            pipe.zadd(k("done"), {cid: new.resolved_at or new.updated})
        elif new.status == "reopened":
            pipe.zrem(k("done"), cid)
        for d in new.departments:
            pipe.sadd(k(f"dept:{d}"), cid)
            if is_open:
                pipe.sadd(k(f"open:dept:{d}"), cid)
        geo = k(f"open:geo:{new.category}")
        if is_open:
            pipe.sadd(k("open"), cid)
            pipe.geoadd(geo, (new.place.lng, new.place.lat, cid))
        else:
            pipe.srem(k("open"), cid)
            pipe.zrem(geo, cid)
        if new.deadline is not None:
            pipe.zadd(k("deadline"), {cid: new.deadline})
            if new.level < len(LEVELS) - 1:
                pipe.zadd(k("escalate"), {cid: new.deadline})
            else:
                pipe.zrem(k("escalate"), cid)
        else:
            pipe.zrem(k("deadline"), cid)
            pipe.zrem(k("escalate"), cid)
        if events:
            pipe.hset(k("by_event"), mapping={e: cid for e in events})
        for a in new.alerts[-5:]:
            pipe.hset(k("by_alert"), a, cid)

    def act(self, case_id: str, action: str, actor: str, note: str = "",
            ts: float | None = None, context: dict | None = None) -> Case:
        """Do a lifecycle action as `actor` (a person or system); returns the new state.

        `context` is recorded beside the action in the audit record (e.g. the OS user behind a
        command-line actor); it never changes the case.
        """
        if action not in ACTIONS:
            raise CaseError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
        if not actor:
            raise CaseError("an action needs an actor: pass --actor NAME")
        ts = self.clock() if ts is None else ts
        data = {**(context or {}), **({"note": note} if note else {})}
        if action == "escalate":
            case = self.get(case_id)
            if case is None:
                raise CaseError(f"no case {case_id!r}: see `cityops cases list`")
            check(case, "escalate")
            data.update(self.escalation(case))
        return self.write(case_id, action, actor, ts, data)

    def escalation(self, case: Case) -> dict:
        """What escalating a case one level means: the new level, owner and departments."""
        level = case.level + 1
        place = case.place
        owner = (place.unit_name or f"unit {place.unit}") if level == 1 else COMMAND
        return {"level": level, "owner": owner, "milestone": case.deadline_kind,
                "add": [COMMAND] if level == len(LEVELS) - 1 else []}

    def ingest(self, alert: Alert) -> tuple[str, bool]:
        """Open a case for an alert, or merge it into the open case it belongs to.

        Returns (case id, True if a new case was opened). The alert is stored with its case
        (an alert without an id gets one). Batches go through `layers.loop.intake.Intake`.
        """
        from layers.loop.alerts import AlertStore
        from layers.loop.intake import Intake

        alerts = AlertStore(self.bus)
        if not alert.id:
            alert.id = alerts.new_id()
        if not alert.ts:
            alert.ts = self.clock()
        case_id, opened = Intake(self, alerts).commit([alert])[0]
        return (case_id or alerts.get(alert.id).case), opened

    def message_params(self, case: Case) -> dict:
        """The parameters every case message template may use."""
        place = case.place
        return {"case": case.id, "category": self.categories.label(case.category, self.lang),
                "place": " ".join(str(p) for p in (place.unit_name, place.grid_id) if p),
                "severity": case.severity}

    def _dispatch_messages(self, pipe, case: Case) -> None:
        from twin.settings import city_time

        tz = getattr(self.router, "timezone", None) if self.router is not None else None
        accept_by = city_time(case.deadline or case.created, tz).strftime("%H:%M")
        params = {**self.message_params(case), "accept_by": accept_by}
        for to in case.departments + ([case.owner] if case.owner else []):
            self.outbox.queue(pipe, "case_dispatch", to, params, "push", self.lang, case.created)
