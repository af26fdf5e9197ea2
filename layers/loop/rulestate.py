"""What the rules engine remembers between ticks: episodes, recent events, handled event ids.

`RuleStateStore` owns the key family `rules:*` (see layers.keys). Reads go to Redis at once;
writes are held until `flush(pipe)` queues them into the engine's commit, the same transaction
as the tick's cases, alerts and stream acknowledgements: a tick killed half-way leaves the rule
state as it was, and the redelivered entries are evaluated against the same state again.
Layer-rule state holds cell positions, so it is stored with the twin's fingerprint and ignored
(with a warning) on another twin; event-rule episodes and cluster pools hold points and times.
"""

from __future__ import annotations

import json
import logging

import numpy as np

from layers.live.bus import Bus

SEEN_TTL_S = 2 * 3600 + 60
log = logging.getLogger("cityops.rules")


class RuleStateStore:
    """Per-rule state and the engine's bookkeeping in Redis."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys
        self.pending: list = []  # writes waiting for the engine's commit: fn(pipe)

    def flush(self, pipe) -> None:
        """Queue every held write into the commit's pipeline."""
        for write in self.pending:
            write(pipe)
        self.pending.clear()

    def discard(self) -> None:
        """Forget held writes (the commit failed: the tick is redone from Redis)."""
        self.pending.clear()

    # -- layer rules: since when each cell meets the condition, cells in an episode ---------------
    def load_layer(self, rule: str, fingerprint: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(since per cell, NaN = not met; active episode mask) saved for this twin."""
        since, active = np.full(n, np.nan), np.zeros(n, dtype=bool)
        raw = self.redis.hgetall(self.keys.rule_layer(rule))
        if not raw:
            return since, active
        if raw.get(b"twin", b"").decode() != fingerprint:
            log.warning("rule %s: saved state belongs to another twin; starting afresh", rule)
            return since, active
        pos = np.frombuffer(raw[b"since_pos"], dtype=np.int64)
        since[pos] = np.frombuffer(raw[b"since_ts"], dtype=np.float64)
        active[np.frombuffer(raw[b"active"], dtype=np.int64)] = True
        return since, active

    def save_layer(self, rule: str, fingerprint: str, since: np.ndarray,
                   active: np.ndarray) -> None:
        pos = np.flatnonzero(~np.isnan(since)).astype(np.int64)
        mapping = {"twin": fingerprint, "since_pos": pos.tobytes(),
                   "since_ts": since[pos].tobytes(),
                   "active": np.flatnonzero(active).astype(np.int64).tobytes()}
        self.pending.append(lambda pipe: pipe.hset(self.keys.rule_layer(rule), mapping=mapping))

    # -- event rules: the last time of each place's episode -----------------------------------------
    def episode_ends(self, rule: str, places: list[str]) -> list[float | None]:
        raw = self.redis.hmget(self.keys.rule_episodes(rule), places) if places else []
        return [float(v) if v is not None else None for v in raw]

    def set_episode_ends(self, rule: str, ends: dict[str, float]) -> None:
        if ends:
            mapping = {k: repr(float(v)) for k, v in ends.items()}
            self.pending.append(lambda pipe: pipe.hset(self.keys.rule_episodes(rule),
                                                       mapping=mapping))

    # -- cluster rules: a pool of recent matching events and the active clusters --------------------
    def pool(self, rule: str, rows: list[list], times: list[float],
             older_than: float, limit: int) -> tuple[list[list], dict[str, dict]]:
        """The rule's recent pool (the last `limit` events newer than `older_than`) with `rows`
        added, and its active clusters; the additions and the trim are held for the commit."""
        recent = self.keys.rule_recent(rule)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrevrangebyscore(recent, "+inf", f"({older_than}", start=0, num=limit)
        pipe.hgetall(self.keys.rule_episodes(rule))
        members, episodes = pipe.execute()
        pool = [json.loads(m) for m in reversed(members)] + list(rows)
        pool = pool[-limit:]
        added = {json.dumps(row): float(ts) for row, ts in zip(rows, times, strict=True)}

        def write(p) -> None:
            if added:
                p.zadd(recent, added)
            p.zremrangebyscore(recent, "-inf", older_than)
            p.zremrangebyrank(recent, 0, -limit - 1)
        self.pending.append(write)
        return pool, {k.decode(): json.loads(v) for k, v in episodes.items()}

    def save_clusters(self, rule: str, active: dict[str, dict], stale: list[str]) -> None:
        key = self.keys.rule_episodes(rule)
        fresh = {k: json.dumps(e) for k, e in active.items() if k not in stale}

        def write(pipe) -> None:
            if stale:
                pipe.hdel(key, *stale)
            if fresh:
                pipe.hset(key, mapping=fresh)
        self.pending.append(write)

    # -- the engine: which events were handled, its heartbeat ------------------------------------
    def seen(self, ids: list[str], hour: int) -> np.ndarray:
        """Which event ids were handled in this or the previous hour (a redelivery)."""
        flags = np.zeros(len(ids), dtype=bool)
        if not ids:
            return flags
        pipe = self.redis.pipeline(transaction=False)
        for h in (hour, hour - 1):
            pipe.smismember(self.keys.rules_seen(h), ids)
        for got in pipe.execute():
            flags |= np.asarray(got, dtype=bool)
        return flags

    def queue_seen(self, pipe, ids: list[str], hour: int) -> None:
        if ids:
            key = self.keys.rules_seen(hour)
            pipe.sadd(key, *ids)
            pipe.expire(key, SEEN_TTL_S)

    def queue_heartbeat(self, pipe, now: float, consumer: str) -> None:
        pipe.hset(self.keys.rules_meta, mapping={"heartbeat": repr(now), "consumer": consumer})

    def meta(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.keys.rules_meta).items()}
