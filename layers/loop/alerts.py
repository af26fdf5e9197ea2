"""Alerts (数据吹哨): what a rule raised, where and why; each opens or joins a case.

`AlertStore` owns the key family `alerts:*` (see layers.keys): the typed `Alert` records by id
and by time.
"""

from __future__ import annotations

from layers.live.bus import Bus
from layers.loop.records import Alert


class AlertStore:
    """Alerts in Redis: `alerts:state` (id -> JSON), `alerts:created` (ids by time)."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys

    def new_id(self) -> str:
        return f"A{int(self.redis.incr(self.keys.alerts('seq'))):06d}"

    def save(self, alert: Alert) -> Alert:
        if not alert.id:
            alert.id = self.new_id()
        self.queue_save(self.redis.pipeline(transaction=True), alert).execute()
        return alert

    def queue_save(self, pipe, alert: Alert):
        """Queue the writes of an alert (with an id) into a pipeline; the pipeline."""
        pipe.hset(self.keys.alerts("state"), alert.id, alert.to_json())
        pipe.zadd(self.keys.alerts("created"), {alert.id: float(alert.ts)})
        return pipe

    def stored(self, ids) -> list[bool]:
        """Whether each alert id is stored already (a redelivered batch's alerts are)."""
        pipe = self.redis.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hexists(self.keys.alerts("state"), alert_id)
        return [bool(x) for x in pipe.execute()]

    def get(self, alert_id: str) -> Alert | None:
        raw = self.redis.hget(self.keys.alerts("state"), alert_id)
        return Alert.from_json(raw) if raw else None

    def list(self, limit: int = 100, rule: str | None = None, offset: int = 0) -> list[Alert]:
        """Alerts newest first (of one rule when given)."""
        ids = self.redis.zrevrange(self.keys.alerts("created"), 0 if rule else offset,
                                   -1 if rule else offset + limit - 1)
        raws = self.redis.hmget(self.keys.alerts("state"), ids) if ids else []
        out = [Alert.from_json(r) for r in raws if r]
        if rule is not None:
            out = [a for a in out if a.rule == rule][offset:]
        return out[:limit]

    def behind(self, cases: list) -> list[tuple[Alert, object]]:
        """(alert, case) for every alert of the cases (an alert is active while its case is
        open), newest alert first."""
        owner = {a: c for c in cases for a in c.alerts}
        ids = sorted(owner)
        raws = self.redis.hmget(self.keys.alerts("state"), ids) if ids else []
        pairs = [(a, owner[a.id]) for a in (Alert.from_json(r) for r in raws if r)]
        return sorted(pairs, key=lambda p: -float(p[0].ts))

    def count(self) -> int:
        return int(self.redis.zcard(self.keys.alerts("created")))
