"""Ingest over many partitions and processes: each process takes its share of the leases.

Every ingest process (`cityops ingest`) registers in `ingest:members` with a heartbeat, and
holds the leases of about `ceil(P / live processes)` partitions: it takes free ones when it has
fewer, hands extra ones back (after a final checkpoint) when it has more, and takes over the
partitions of a process that died once their leases lapse; the new holder XAUTOCLAIMs what the
dead one left pending and reloads its last checkpoint, so every partition counts exactly once.
The held partitions' workers are stepped in turn on one thread.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis

from layers.clock import pause
from layers.live.bus import Bus
from layers.live.checkpoint import LeaseLost
from layers.live.health import HealthStore
from layers.live.partitions import Partitions
from layers.live.producer import layout
from layers.live.worker import Worker

MEMBER_TTL_S = 15.0
BALANCE_EVERY_S = 2.0
log = logging.getLogger("cityops.ingest")


class Fleet:
    """The ingest workers of one process, over the partitions it holds."""

    def __init__(self, bus: Bus, twin, consumer: str, partitions: Partitions | None = None,
                 **worker_args) -> None:
        self.bus, self.twin, self.consumer = bus, twin, consumer
        self.partitions = partitions or layout(bus, twin)
        self.worker_args = worker_args
        self.workers: dict[int | None, Worker] = {}
        self.health = HealthStore(bus)
        self._next_balance = 0.0

    # -- membership and shares ---------------------------------------------------------------
    def _heartbeat(self) -> int:
        """Renew our membership; the number of live ingest processes (us included)."""
        now = time.time()
        key = self.bus.keys.ingest_members
        pipe = self.bus.redis.pipeline(transaction=False)
        pipe.zadd(key, {self.consumer: now})
        pipe.zremrangebyscore(key, "-inf", now - MEMBER_TTL_S)
        pipe.zcard(key)
        return max(1, int(pipe.execute()[-1]))

    def share(self, members: int) -> int:
        return math.ceil(self.partitions.count / members)

    def _ids(self) -> list[int | None]:
        return [None] if self.partitions.count == 1 else list(range(self.partitions.count))

    def balance(self) -> None:
        """Take free partitions up to our share; hand back what is over it."""
        self._next_balance = time.monotonic() + BALANCE_EVERY_S
        want = self.share(self._heartbeat())
        for p in list(self.workers)[want:]:  # over our share: hand back after a checkpoint
            worker = self.workers.pop(p)
            worker.checkpoint(force_publish=True)
            worker.release()
            worker.close()
        for p in self._ids():
            if len(self.workers) >= want:
                break
            if p not in self.workers and self._take(p):
                log.info("%s took ingest partition %s", self.consumer, p)
        self.health.report(self.consumer, "running" if self.workers else "standby")

    def _take(self, p: int | None) -> bool:
        """Start a worker on partition `p` if its lease is free; True if we hold it now."""
        worker = Worker(self.bus, self.twin, consumer=self._name(p), partition=p,
                        partitions=self.partitions, **self.worker_args)
        try:
            worker.start(wait_s=0.0)
        except LeaseLost:
            return False  # held by another process
        self.workers[p] = worker
        return True

    def _name(self, p: int | None) -> str:
        return self.consumer if p is None else f"{self.consumer}.p{p}"

    # -- the loop ------------------------------------------------------------------------------
    def step(self, block_ms: int = 100) -> int:
        """One read of every held partition (and a rebalance when due); entries read."""
        if time.monotonic() >= self._next_balance:
            self.balance()
        n = 0
        block = block_ms if len(self.workers) <= 1 else 0
        for p, worker in list(self.workers.items()):
            try:
                n += worker.step(block)
            except LeaseLost as exc:
                log.warning("%s; partition %s goes back to the pool", exc, p)
                worker.step_back()
                self.workers.pop(p, None)
        if not n and len(self.workers) > 1:
            time.sleep(block_ms / 1000.0)
        return n

    def run(self, stop: Callable[[], bool] = lambda: False, block_ms: int = 200) -> None:
        """Ingest until `stop()`; Redis trouble makes every worker step back and retry."""
        delay = 1.0
        while not stop():
            try:
                self.step(block_ms)
                delay = 1.0
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("%s lost Redis (%s); reconnecting in %.0f s", self.consumer, exc,
                            delay)
                for worker in self.workers.values():
                    worker.step_back()
                self.workers.clear()
                self.health.report(self.consumer, "reconnecting", str(exc))
                pause(delay, stop)
                delay = min(2 * delay, 30.0)
                self._next_balance = 0.0
        self.stop()

    def drain(self, idle_reads: int = 2) -> None:
        """Process every partition until nothing is left to read (tests, tools)."""
        self.balance()
        idle = 0
        while idle < idle_reads:
            idle = 0 if self.step(0) else idle + 1
        for worker in self.workers.values():
            worker.checkpoint(force_publish=True)

    def drain_all(self, timeout_s: float = 60.0, stop: Callable[[], bool] = lambda: False,
                  idle_reads: int = 2) -> None:
        """Take EVERY partition (waiting for dead holders' leases to lapse, up to `timeout_s`),
        then process until nothing is left to read: a final catch-up by one process."""
        deadline = time.monotonic() + timeout_s
        while not stop() and time.monotonic() < deadline:
            for p in self._ids():
                if p not in self.workers:
                    self._take(p)
            if len(self.workers) == len(self._ids()):
                break
            pause(0.2, stop)
        idle = 0
        while idle < idle_reads and not stop():
            idle = 0 if sum(w.step(0) for w in self.workers.values()) else idle + 1
        for worker in self.workers.values():
            worker.checkpoint(force_publish=True)

    def stop(self) -> None:
        """Final checkpoints, leases given back, membership withdrawn."""
        for worker in self.workers.values():
            try:
                worker.checkpoint(force_publish=True)
                worker.release()
                worker.close()
            except (redis.RedisError, OSError, LeaseLost):
                pass
        self.workers.clear()
        try:
            self.bus.redis.zrem(self.bus.keys.ingest_members, self.consumer)
        except (redis.RedisError, OSError):
            pass
        self.health.report(self.consumer, "stopped")
