"""Simulated responders for the demo: departments accept, arrive and resolve cases after
realistic delays, so the demo city reaches a steady state (open cases level off, closure rates
and overdue counts move) instead of piling up.

Each milestone's delay is drawn once per case from a generator seeded by (seed, case id), so a
run is reproducible and a restart acts the same: most inside the category's SLA (a share of the
limit), a few late (past it). Long limits are capped (a demo does not wait two days to close a
noise complaint). The responder acts through `CaseStore.act` as the system actor
`system:demo-responder`, naming the department it acts for; it is configurable
(data/demo/responders.yaml) and only the demo runs it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis
import yaml
from pydantic import BaseModel, ConfigDict, Field

from layers.clock import pause
from layers.loop.cases import CaseError, CaseStore
from layers.loop.records import Case
from twin import settings

ACTOR = "system:demo-responder"
MILESTONES = ("accept", "arrive", "resolve")
log = logging.getLogger("cityops.responders")


class ResponderConfig(BaseModel):
    """How the demo's responders behave (data/demo/responders.yaml)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    late_share: float = Field(0.12, ge=0, le=1)  # share of milestones done past their limit
    on_time: tuple[float, float] = (0.2, 0.85)   # delay as a share of the limit, when in time
    late: tuple[float, float] = (1.1, 1.8)       # ... when late
    cap_min: dict[str, float] = {"accept": 20.0, "arrive": 30.0, "resolve": 45.0}
    late_share_by_category: dict[str, float] = {}
    interval_s: float = Field(5.0, gt=0)


def load_config(path: str | Path | None = None) -> ResponderConfig:
    """The responders' settings (default data/demo/responders.yaml; defaults if missing)."""
    path = Path(path) if path else settings.data_dir() / "demo" / "responders.yaml"
    if not path.exists():
        return ResponderConfig()
    return ResponderConfig(**(yaml.safe_load(path.read_text(encoding="utf-8")) or {}))


def delays(case: Case, config: ResponderConfig) -> dict[str, float]:
    """Seconds from each milestone's start (opening, acceptance, arrival) to the responder
    doing it, drawn once for this case: within the limit, or past it for a late share."""
    digest = hashlib.sha256(f"{config.seed}:{case.id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    late_share = config.late_share_by_category.get(case.category, config.late_share)
    out = {}
    for milestone in MILESTONES:
        limit = case.sla.seconds(milestone)
        cap = 60.0 * config.cap_min.get(milestone, 60.0)
        late = rng.random() < late_share and limit <= cap
        lo, hi = config.late if late else config.on_time
        out[milestone] = min(limit * rng.uniform(lo, hi), cap if not late else np.inf)
    return out


def due_action(case: Case, config: ResponderConfig, now: float) -> str | None:
    """The action the responder does on an open case now, if its delay has passed."""
    wait = delays(case, config)
    if not case.accepted_at:
        start, action = max(case.created, case.reopened_at or 0), "accept"
    elif not case.on_scene_at:
        start, action = case.accepted_at, "arrive"
    else:
        start, action = case.on_scene_at, "resolve"
    return action if now - start >= wait[action] else None


class Responders:
    """Works the open cases of a store as the departments would."""

    def __init__(self, store: CaseStore, config: ResponderConfig | None = None) -> None:
        self.store, self.config = store, config or load_config()

    def tick(self, now: float | None = None, batch: int = 500) -> list[tuple[str, str]]:
        """Do every action that is due; the (case id, action) pairs done."""
        store = self.store
        now = store.clock() if now is None else now
        done = []
        ids = store.ids(open_only=True)
        for lo in range(0, len(ids), batch):
            for case in store.many(ids[lo:lo + batch]):
                action = due_action(case, self.config, now)
                if action is None:
                    continue
                context = {"department": case.departments[0] if case.departments else ""}
                try:
                    store.act(case.id, action, ACTOR, ts=now, context=context)
                except CaseError:  # changed meanwhile (someone else acted): next pass
                    continue
                done.append((case.id, action))
        return done

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Tick every few seconds until `stop()`; Redis trouble makes it wait and retry."""
        delay = 1.0
        while not stop():
            started = time.monotonic()
            try:
                self.tick()
                delay = 1.0
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("responders lost Redis (%s); retrying in %.0f s", exc, delay)
                pause(delay, stop)
                delay = min(2 * delay, 30.0)
                continue
            pause(self.config.interval_s - (time.monotonic() - started), stop)
