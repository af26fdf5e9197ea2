"""SLA escalation as its own scheduled service (`cityops cases escalate` runs it once or on a loop).

Every open case past its next milestone's deadline climbs one level of the district's command
chain (grid -> street/town -> district command): an attributed `escalate` record (actor
`system:sla`, with the milestone and how late it was, in data, so each reader renders it in its
own language), the new owner and departments notified through the outbox. Running it apart from
the rules engine means a slow rule never delays an escalation, and the other way round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from layers.clock import pause
from layers.live.health import HealthStore
from layers.loop.cases import CaseStore
from layers.loop.lifecycle import CaseError, allowed
from layers.loop.records import Case

log = logging.getLogger("cityops.escalation")


class Escalator:
    """Escalates overdue cases of a case store, on demand (`tick`) or on a schedule (`run`)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def tick(self, now: float | None = None) -> list[str]:
        """Escalate every open case past its deadline one level; the ids escalated."""
        store = self.store
        now = store.clock() if now is None else now
        done = []
        for cid in store.due_for_escalation(now):
            case = store.get(cid)
            if case is None or not allowed(case, "escalate"):
                store.forget_escalation(cid)
                continue
            data = store.escalation(case)
            data["overdue_s"] = round(now - (case.deadline or now), 1)

            def notify(pipe, new: Case, data=data) -> None:
                params = {**store.message_params(new), "milestone": data["milestone"],
                          "owner": data["owner"]}
                for to in dict.fromkeys([data["owner"], *new.departments]):
                    store.outbox.queue(pipe, "case_escalated", to, params, "push", store.lang, now)

            try:
                store.write(cid, "escalate", "system:sla", now, data, notify=notify)
            except CaseError:  # changed meanwhile: the next pass sees the new deadline
                continue
            done.append(cid)
        return done

    def run(self, stop: Callable[[], bool] = lambda: False, interval_s: float = 10.0,
            name: str = "escalation") -> None:
        """Tick every `interval_s` seconds until `stop()` is true; Redis trouble makes it wait
        and retry (each escalation is one transaction: nothing is left half-done)."""
        health, delay = HealthStore(self.store.bus), 1.0
        health.report(name, "running")
        while not stop():
            started = time.monotonic()
            try:
                escalated = self.tick()
                if escalated:
                    log.info("escalated %d cases", len(escalated))
                if delay > 1.0:
                    health.report(name, "running")
                delay = 1.0
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("escalation lost Redis (%s); retrying in %.0f s", exc, delay)
                health.report(name, "reconnecting", str(exc))
                pause(delay, stop)
                delay = min(2 * delay, 30.0)
                continue
            pause(interval_s - (time.monotonic() - started), stop)
        health.report(name, "stopped")
