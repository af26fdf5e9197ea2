"""How each long-running part is doing: state, since when, restarts, last error, heartbeat.

`HealthStore` owns the key family `health:{service}` (see layers.keys). Every long-running
process (ingest, rules, escalation, bridges, the demo's supervisor) reports here, so
`cityops layers stats` and the wall can say what is running, what is standing by and what is
restarting after a failure. Writes are best effort: a part that cannot reach Redis says so on
its terminal instead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import redis

from layers.live.bus import Bus

STALE_AFTER_S = 60.0
log = logging.getLogger("cityops.health")
STATES = ("starting", "running", "standby", "reconnecting", "restarting", "stopped", "failed")


@dataclass(frozen=True)
class Health:
    """One part's report."""

    service: str
    state: str
    since: float
    heartbeat: float
    restarts: int = 0
    last_error: str = ""


class HealthStore:
    """Reads and writes the health reports under one bus prefix."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys

    def report(self, service: str, state: str, error: str = "", restarted: bool = False) -> None:
        """Record a part's state (best effort: Redis may be the trouble)."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}: use one of {', '.join(STATES)}")
        key, now = self.keys.health(service), time.time()
        try:
            old = self.redis.hget(key, "state")
            mapping = {"state": state, "heartbeat": repr(now)}
            if old is None or old.decode() != state:
                mapping["since"] = repr(now)
            if error:
                mapping["last_error"] = error[:500]
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, mapping=mapping)
            if restarted:
                pipe.hincrby(key, "restarts", 1)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("cannot report %s as %s: %s", service, state, exc)

    def all(self) -> list[Health]:
        """Every part's last report, by name."""
        out = []
        for key in sorted(self.redis.scan_iter(match=self.keys.every("health:{service}"))):
            raw = {k.decode(): v.decode() for k, v in self.redis.hgetall(key).items()}
            name = key.decode()[len(self.keys.health("")):]
            out.append(Health(name, raw.get("state", "?"), float(raw.get("since", 0)),
                              float(raw.get("heartbeat", 0)), int(raw.get("restarts", 0)),
                              raw.get("last_error", "")))
        return out

    def summary(self, now: float | None = None) -> dict[str, dict]:
        """{service: report, with `stale` when its heartbeat is old} for stats and the wall."""
        now = time.time() if now is None else now
        return {h.service: {**asdict(h), "stale": now - h.heartbeat > STALE_AFTER_S}
                for h in self.all()}
