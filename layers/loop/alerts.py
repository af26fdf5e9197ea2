"""Alerts (数据吹哨): what a rule raised, where and why; each opens or joins a case.

`AlertStore` owns the key family `alerts:*` (see layers.keys): the typed `Alert` records by id
and by time, and their public ids. Alert ids (A000001...) are internal and can be counted; the
outside (CAP identifiers and URLs) knows an alert by its public id, an HMAC of the alert id under
the deployment secret (`twin.settings.secret`): the same alert always gets the same public id,
and nobody without the secret can derive or list them.
"""

from __future__ import annotations

import hashlib
import hmac

from layers.live.bus import Bus
from layers.loop.records import Alert
from twin import settings

PUBLIC_ID_PURPOSE = b"cityops/alert-public-id/v1:"


def public_id(secret: bytes, alert_id: str) -> str:
    """The public id of an alert: 32 hex digits of HMAC-SHA256(secret, purpose + alert id)."""
    mac = hmac.new(secret, PUBLIC_ID_PURPOSE + alert_id.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


class AlertStore:
    """Alerts in Redis: `alerts:state` (id -> JSON), `alerts:created` (ids by time),
    `alerts:public` (public id -> id)."""

    def __init__(self, bus: Bus, secret: bytes | None = None) -> None:
        self.redis, self.keys = bus.redis, bus.keys
        self._home, self._secret = bus.home, secret

    @property
    def secret(self) -> bytes:
        """The deployment secret ($CITYOPS_SECRET, else the one kept under the home folder)."""
        if self._secret is None:
            self._secret = settings.secret("secret_key", "CITYOPS_SECRET", self._home)
        return self._secret

    def public_id(self, alert_id: str) -> str:
        return public_id(self.secret, alert_id)

    def new_id(self) -> str:
        return f"A{int(self.redis.incr(self.keys.alerts('seq'))):06d}"

    def save(self, alert: Alert) -> Alert:
        if not alert.id:
            alert.id = self.new_id()
        self.queue_save(self.redis.pipeline(transaction=True), alert).execute()
        return alert

    def queue_save(self, pipe, alert: Alert):
        """Queue the writes of an alert (with an id) into a pipeline; the pipeline."""
        alert.public_id = alert.public_id or self.public_id(alert.id)
        pipe.hset(self.keys.alerts("state"), alert.id, alert.to_json())
        pipe.zadd(self.keys.alerts("created"), {alert.id: float(alert.ts)})
        pipe.hset(self.keys.alerts("public"), alert.public_id, alert.id)
        return pipe

    def stored(self, ids) -> list[bool]:
        """Whether each alert id is stored already (a redelivered batch's alerts are)."""
        pipe = self.redis.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hexists(self.keys.alerts("state"), alert_id)
        return [bool(x) for x in pipe.execute()]

    def get(self, alert_id: str) -> Alert | None:
        raw = self.redis.hget(self.keys.alerts("state"), alert_id)
        return self._read(raw)

    def by_public(self, public: str) -> Alert | None:
        """The alert a public id names (None for any other string)."""
        if not isinstance(public, str) or len(public) != 32:
            return None
        alert_id = self.redis.hget(self.keys.alerts("public"), public)
        alert = self.get(alert_id.decode() if isinstance(alert_id, bytes) else alert_id) \
            if alert_id else None
        return alert if alert is not None and alert.public_id == public else None

    def _read(self, raw) -> Alert | None:
        """An alert from its JSON; one stored before public ids gets its (derived) public id."""
        if not raw:
            return None
        alert = Alert.from_json(raw)
        if not alert.public_id and alert.id:
            alert.public_id = self.public_id(alert.id)
        return alert

    def list(self, limit: int = 100, rule: str | None = None, offset: int = 0) -> list[Alert]:
        """Alerts newest first (of one rule when given)."""
        ids = self.redis.zrevrange(self.keys.alerts("created"), 0 if rule else offset,
                                   -1 if rule else offset + limit - 1)
        raws = self.redis.hmget(self.keys.alerts("state"), ids) if ids else []
        out = [self._read(r) for r in raws if r]
        if rule is not None:
            out = [a for a in out if a.rule == rule][offset:]
        return out[:limit]

    def behind(self, cases: list) -> list[tuple[Alert, object]]:
        """(alert, case) for every alert of the cases (an alert is active while its case is
        open), newest alert first."""
        owner = {a: c for c in cases for a in c.alerts}
        ids = sorted(owner)
        raws = self.redis.hmget(self.keys.alerts("state"), ids) if ids else []
        pairs = [(a, owner[a.id]) for a in (self._read(r) for r in raws if r)]
        return sorted(pairs, key=lambda p: -float(p[0].ts))

    def count(self) -> int:
        return int(self.redis.zcard(self.keys.alerts("created")))
