"""The ingest worker's durable state: its lease, totals, per-minute buckets and counted ids.

`CheckpointStore` owns the key families `ingest:*` and `state:*` (see layers.keys). The worker
takes the lease (`acquire`), loads the last checkpoint (`load`), and writes each checkpoint in
one MULTI/EXEC opened by `transaction`, which WATCHes the lease and the epoch: if another worker
took over meanwhile, the transaction fails with `LeaseLost` and nothing of it is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import redis

from layers.live import schema as S
from layers.live.bus import Bus

ID_HOURS_KEPT = 26


class WorkerError(RuntimeError):
    """The worker cannot run as configured; the message says what to change."""


class LeaseLost(WorkerError):
    """Another worker took over the ingest lease; this one must step back."""


@dataclass
class Saved:
    """The last checkpoint: totals, snapshot version, minute buckets, counted id hashes."""

    meta: dict[str, str] = field(default_factory=dict)
    minutes: dict[int, bytes] = field(default_factory=dict)
    ids: dict[int, np.ndarray] = field(default_factory=dict)


class CheckpointStore:
    """Lease, epoch, meta, minute buckets and id hashes of the ingest worker."""

    def __init__(self, bus: Bus, partition: int | None = None) -> None:
        self.bus, self.redis, self.keys = bus, bus.redis, bus.keys.partition(partition)

    # -- the lease --------------------------------------------------------------------------------
    def holder(self) -> str:
        return (self.redis.get(self.keys.ingest_lease) or b"").decode()

    def acquire(self, consumer: str, token: str, lease_ms: int, wait_s: float) -> int:
        """Take the lease (waiting up to `wait_s` for a holder to let go); the new epoch."""
        deadline = time.monotonic() + wait_s
        while True:
            holder = self.holder()
            mine = holder.split("|")[0] == consumer  # our own earlier life: take over
            if self.redis.set(self.keys.ingest_lease, token, nx=not mine, px=lease_ms):
                return int(self.redis.incr(self.keys.ingest_epoch))
            if time.monotonic() > deadline:
                raise LeaseLost(f"worker {holder!r} holds the ingest lease; stop it or wait "
                                f"{lease_ms / 1000:.0f} s after it died")
            time.sleep(0.2)

    def release(self, token: str) -> None:
        """Give the lease up if it is still ours."""
        if self.holder() == token:
            self.redis.delete(self.keys.ingest_lease)

    @contextmanager
    def transaction(self, consumer: str, token: str, epoch: int,
                    lease_ms: int) -> Iterator[redis.client.Pipeline]:
        """A MULTI pipeline that renews the lease and commits only if it is still ours."""
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self.keys.ingest_lease, self.keys.ingest_epoch)
                holder = (pipe.get(self.keys.ingest_lease) or b"").decode()
                if int(pipe.get(self.keys.ingest_epoch) or 0) != epoch \
                        or holder not in ("", token):
                    raise LeaseLost(f"worker {consumer!r} lost the ingest lease to {holder!r}")
                pipe.multi()
                pipe.set(self.keys.ingest_lease, token, px=lease_ms)
                yield pipe
                pipe.execute()
            except redis.WatchError as exc:
                raise LeaseLost(f"worker {consumer!r} lost the ingest lease") from exc

    # -- the state --------------------------------------------------------------------------------
    def load(self) -> Saved:
        """Everything the last checkpoint wrote."""
        meta = {k.decode(): v.decode() for k, v in self.redis.hgetall(self.keys.state_meta).items()}
        minutes = {int(m): b for m, b in self.redis.hgetall(self.keys.state_minutes).items()}
        ids = {}
        for hour in self.redis.smembers(self.keys.state_idhours):
            raw = self.redis.get(self.keys.state_ids(int(hour))) or b""
            ids[int(hour)] = np.frombuffer(raw, dtype=np.uint64)
        return Saved(meta, minutes, ids)

    def meta(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.keys.state_meta).items()}

    def minutes(self, minutes: list[int]) -> list[bytes | None]:
        """The stored buckets of some minutes (None where a minute has none)."""
        return self.redis.hmget(self.keys.state_minutes, [str(m) for m in minutes]) \
            if minutes else []

    def queue_minutes(self, pipe, blobs: dict[int, bytes], removed: list[int]) -> None:
        for m, blob in blobs.items():
            pipe.hset(self.keys.state_minutes, str(m), blob)
        for m in removed:
            pipe.hdel(self.keys.state_minutes, str(m))

    def queue_totals(self, pipe, totals: dict[int, dict[str, int]], removed: list[int]) -> None:
        """Per-minute event counts of each kind (the wall's events-per-minute chart)."""
        if totals:
            pipe.hset(self.keys.state_totals, mapping={
                str(m): json.dumps(t, separators=(",", ":")) for m, t in totals.items()})
        for m in removed:
            pipe.hdel(self.keys.state_totals, str(m))

    def totals(self, first: int, last: int) -> dict[int, dict[str, int]]:
        """{minute: {kind: events}} of the minutes first..last that had events."""
        minutes = [str(m) for m in range(int(first), int(last) + 1)]
        if not minutes:
            return {}
        raw = self.redis.hmget(self.keys.state_totals, minutes)
        return {int(m): json.loads(r) for m, r in zip(minutes, raw, strict=True) if r}

    def queue_ids(self, pipe, hashes: np.ndarray, hours: np.ndarray) -> None:
        """Append counted id hashes to their hours' lists."""
        for hour in np.unique(hours).tolist():
            pipe.append(self.keys.state_ids(hour), hashes[hours == hour].tobytes())
            pipe.sadd(self.keys.state_idhours, hour)

    def queue_drop_ids_before(self, pipe, oldest_hour: int) -> None:
        for hour in [int(x) for x in self.redis.smembers(self.keys.state_idhours)]:
            if hour < oldest_hour:
                pipe.delete(self.keys.state_ids(hour))
                pipe.srem(self.keys.state_idhours, hour)

    def queue_meta(self, pipe, meta: dict) -> None:
        pipe.hset(self.keys.state_meta, mapping=meta)

    def check_layout(self, meta: dict[str, str], fingerprint: str) -> None:
        """Refuse a saved state of another twin or channel layout."""
        if meta and (meta.get("signature") != S.signature() or meta.get("cells") != fingerprint):
            raise WorkerError(f"the live state under prefix {self.bus.prefix!r} belongs to "
                              f"another twin or layer layout: use another prefix or clear it "
                              f"with `cityops layers reset`")

    def clear(self) -> None:
        """Delete the live state and the lease (not the streams, not the snapshot)."""
        names = [self.keys.state_meta, self.keys.state_minutes, self.keys.state_idhours,
                 self.keys.state_totals, self.keys.ingest_lease]
        names += list(self.redis.scan_iter(match=self.keys.every("state:ids:{hour}")))
        self.redis.delete(*names)
