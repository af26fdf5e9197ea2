"""Alerts -> cases, a whole batch in ONE transaction (the rules engine's commit).

For every alert not stored yet (alert ids are deterministic, so a redelivered batch finds its
alerts and does nothing twice): join the open case of its category nearest to it within the
category's merge radius and window (an open case in Redis, or one this batch opened before it),
or open a new case and dispatch it. The audit records, the case views and indexes, the outbox
messages, the alerts themselves and whatever the caller adds (rule state, handled event ids,
stream acknowledgements) are written in one MULTI/EXEC, so a crash leaves all of it or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from layers.loop.audit import Entry
from layers.loop.lifecycle import MAX_EVENTS, OPEN, fold
from layers.loop.records import Alert, Case, Place

M_PER_DEG = 111_195.0
GEO_SLACK = 1.02  # GEOSEARCH a little wider than the radius; the exact test is `_metres`


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    dx = (lng1 - lng2) * np.cos(np.radians((lat1 + lat2) / 2.0))
    return float(M_PER_DEG * np.hypot(dx, lat1 - lat2))


SQUARE_M = 2000.0  # grid squares of the cases a batch opens (>= every merge radius used)


def _square(category: str, lat: float, lng: float) -> tuple:
    step = SQUARE_M / M_PER_DEG
    return category, int(lat // step), int(lng // (step / max(np.cos(np.radians(lat)), 1e-6)))


def _around(opened: dict, category: str, lat: float, lng: float, radius_m: float):
    """The cases opened in the squares within `radius_m` of a point (same category)."""
    reach = max(1, int(np.ceil(radius_m / SQUARE_M)))
    _, bx, by = _square(category, lat, lng)
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            yield from opened.get((category, bx + dx, by + dy), ())


@dataclass
class _Opened:
    """A case this batch opens (so a later alert of the batch can join it)."""

    id: str
    category: str
    lat: float
    lng: float
    last_report: float


@dataclass
class Plan:
    """What a batch does: the records to append and, per alert, its case (None: skipped)."""

    entries: list[Entry] = field(default_factory=list)
    cases: list[str | None] = field(default_factory=list)
    opened: list[bool] = field(default_factory=list)
    stored: list[Alert] = field(default_factory=list)
    old: dict[str, Case] = field(default_factory=dict)  # current states of the joined cases


class Intake:
    """Plans and commits batches of alerts for one case store and its alert store."""

    def __init__(self, store, alerts) -> None:
        self.store, self.alerts = store, alerts

    def commit(self, batch: list[Alert],
               more: Callable[[object], None] | None = None) -> list[tuple[str | None, bool]]:
        """Open or join cases for `batch` (alerts with ids) and run `more(pipe)` in the same
        transaction; per alert (case id or None if it was stored before, opened)."""
        out: dict = {}

        def build(pipe) -> list[Entry]:
            out["plan"] = plan = self._plan(pipe, batch)
            return plan.entries

        def extra(pipe, records: list[dict]) -> None:
            states: dict[str, Case | None] = dict(out["plan"].old)
            for record in records:
                old = states.get(record["subject"])
                new = fold(old, record)
                states[record["subject"]] = new
                self.store._index(pipe, old, new, record["data"].get("events", []))
                if record["data"]["action"] == "dispatch":
                    self.store._dispatch_messages(pipe, new)
            for alert in out["plan"].stored:
                self.alerts.queue_save(pipe, alert)
            if more is not None:
                more(pipe)

        self.store.audit.transact(build, extra)
        plan = out["plan"]
        return list(zip(plan.cases, plan.opened, strict=True))

    # -- planning (inside the optimistic lock) ----------------------------------------------------
    def _plan(self, pipe, batch: list[Alert]) -> Plan:
        plan = Plan()
        done = self.alerts.stored(a.id for a in batch) if batch else []
        fresh = [a for a, d in zip(batch, done, strict=True) if not d]
        nearby = self._nearby(fresh)
        existing = {c.id: c for c in self.store.many({i for ids in nearby for i in ids})}
        plan.old = dict(existing)
        opened: dict[tuple, list[_Opened]] = {}  # (category, grid square) -> cases opened
        places = iter(self.store.router.places([a.lat for a in fresh], [a.lng for a in fresh])) \
            if fresh else iter(())
        ids = iter(self._new_ids(len(fresh)))
        near = iter(nearby)
        for alert, was_done in zip(batch, done, strict=True):
            if was_done:
                plan.cases.append(None)
                plan.opened.append(False)
                continue
            place = next(places)
            target = self._join(alert, next(near), existing, opened)
            if target is None:
                case_id = next(ids)
                plan.entries += self._open(case_id, alert, place)
                o = _Opened(case_id, alert.category, alert.lat, alert.lng, float(alert.ts))
                opened.setdefault(_square(o.category, o.lat, o.lng), []).append(o)
                plan.opened.append(True)
            else:
                plan.entries.append(self._merge(target, alert))
                plan.opened.append(False)
            alert.case = target or case_id
            plan.cases.append(alert.case)
            plan.stored.append(alert)
        return plan

    def _new_ids(self, n: int) -> list[str]:
        return self.store.reserve_ids(n)

    def _nearby(self, alerts: list[Alert]) -> list[list[str]]:
        """Per alert, the open cases of its category within its merge radius, nearest first."""
        cats = self.store.categories
        return self.store.open_nearby([(a.category, a.lat, a.lng,
                                        GEO_SLACK * cats.sla(a.category).merge_m + 1.0
                                        if cats.sla(a.category).merge_m > 0 else 0.0)
                                       for a in alerts])

    def _join(self, alert: Alert, near: list[str], existing: dict[str, Case],
              opened: dict[tuple, list[_Opened]]) -> str | None:
        """The case the alert joins: the nearest open one of its category still in its window.

        Distances are measured the same way for cases in Redis (found with a slightly wider
        GEOSEARCH) and for cases this batch opened, so how entries fall into batches never
        changes which case an alert joins.
        """
        sla = self.store.categories.sla(alert.category)
        if sla.merge_m <= 0:
            return None
        window, ts = 60.0 * sla.merge_window_min, float(alert.ts)
        candidates = []
        for cid in near:
            case = existing.get(cid)
            if case is not None and case.status in OPEN and ts - case.last_report <= window:
                d = _metres(alert.lat, alert.lng, case.place.lat, case.place.lng)
                if d <= sla.merge_m:
                    candidates.append((d, cid, None))
        for o in _around(opened, alert.category, alert.lat, alert.lng, sla.merge_m):
            if ts - o.last_report <= window:
                d = _metres(alert.lat, alert.lng, o.lat, o.lng)
                if d <= sla.merge_m:
                    candidates.append((d, o.id, o))
        if not candidates:
            return None
        _, best, chosen = min(candidates, key=lambda c: (c[0], c[1]))
        if chosen is not None:
            chosen.last_report = max(chosen.last_report, ts)
        if best in existing:
            case = existing[best]
            existing[best] = replace(case, last_report=max(case.last_report, ts))
        return best

    def _merge(self, case_id: str, alert: Alert) -> Entry:
        return Entry("case", case_id, f"rule:{alert.rule}", float(alert.ts), {
            "action": "merge", "alert": alert.id, "severity": int(alert.severity),
            "events": [str(e) for e in alert.events][:MAX_EVENTS], "reports": int(alert.reports),
            "note": f"{alert.rule} joined the case"})

    def _open(self, case_id: str, alert: Alert, place: Place) -> list[Entry]:
        store = self.store
        sla = store.categories.sla(alert.category)
        deps = store.router.departments(alert.category)
        ts = float(alert.ts)
        return [
            Entry("case", case_id, f"rule:{alert.rule}", ts, {
                "action": "open", "category": alert.category, "severity": int(alert.severity),
                "place": place.to_dict(), "departments": deps, "owner": place.manager or "",
                "sla": sla.limits_dict(),
                "title": alert.title_in(store.lang) if alert.title else
                store.categories.label(alert.category, store.lang),
                "source": alert.source, "alert": alert.id,
                "events": [str(e) for e in alert.events][:MAX_EVENTS],
                "reports": int(alert.reports)}),
            Entry("case", case_id, "system", ts, {"action": "dispatch", "to": deps,
                                                  "grid_manager": place.manager})]
