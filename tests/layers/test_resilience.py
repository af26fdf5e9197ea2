"""Long-running parts survive Redis trouble: a restarted server, a lost lease. Counts stay exact."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.bus import connect
from layers.live.health import HealthStore
from layers.live.worker import Worker
from tests.layers.conftest import iot_events
from tests.redis_process import RedisProcess


def wait_for(condition, timeout_s: float = 120.0, what: str = "the condition") -> None:
    """Poll until `condition()` is true (generous: the machine may be loaded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - Redis may be restarting: look again
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path):
    proc = RedisProcess(tmp_path / "redis").start()
    yield proc
    proc.stop()


class Running:
    """A loop in a thread until stopped; remembers how it ended."""

    def __init__(self, target) -> None:
        self.stopping, self.error = threading.Event(), None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target) -> None:
        try:
            target(self.stopping.is_set)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)


def _counted(bus) -> float:
    return float(snapshot.read(bus, "iot.count", "24h").sum())


def test_the_ingest_worker_reconnects_after_a_redis_restart_and_counts_exactly(server, twin,
                                                                               tmp_path):
    bus = connect(server.url, home=tmp_path, prefix="r:")
    worker = Worker(bus, twin, consumer="w", history=False)
    run = Running(lambda stop: worker.run(stop, block_ms=100, standby_s=0.2))
    events = iot_events(twin, 600, np.random.default_rng(4))
    bus.publish("iot", events[:300])
    wait_for(lambda: _counted(bus) == 300, what="the first 300 events")
    server.restart()  # SIGKILL, then the same port and append-only file
    bus.publish("iot", events)  # the first 300 again (already counted) and 300 new
    wait_for(lambda: _counted(bus) == 600, what="all 600 events after the restart")
    run.stop()
    assert run.error is None and _counted(bus) == 600
    assert HealthStore(bus).summary()["w"]["state"] == "stopped"


def test_a_worker_that_lost_its_lease_stands_by_and_takes_over_later(server, twin, tmp_path):
    bus = connect(server.url, home=tmp_path, prefix="l:")
    first = Worker(bus, twin, consumer="a", lease_ms=1000, history=False)
    first.start()
    second = Worker(bus, twin, consumer="b", lease_ms=1000, history=False)
    run = Running(lambda stop: second.run(stop, block_ms=100, standby_s=0.2))
    wait_for(lambda: HealthStore(bus).summary().get("b", {}).get("state") == "standby",
             what="the second worker to stand by")
    bus.publish("iot", iot_events(twin, 50, np.random.default_rng(5)))
    first.release()  # the first worker goes away: the standby takes the lease and the events
    wait_for(lambda: _counted(bus) == 50, what="the standby worker to count")
    run.stop()
    assert run.error is None


def test_the_rules_engine_carries_on_after_a_redis_restart(server, demo_twin, tmp_path):
    from layers.loop.engine import Engine
    from layers.loop.rules import load
    from tests.loop.conftest import cell_point
    bus = connect(server.url, home=tmp_path, prefix="e:")
    engine = Engine(bus, demo_twin, load(), consumer="rules-r")
    run = Running(lambda stop: engine.run(stop, interval_s=0.2))

    def report(grid: int) -> dict:
        lat, lng = cell_point(demo_twin, grid)
        return {"id": f"rep-{grid}", "ts": repr(time.time() - 5), "lat": repr(lat),
                "lng": repr(lng), "source": "hotline", "category": "waterlogging",
                "severity": "2", "text": "路口积水"}

    bus.publish("incident", [report(9)])
    wait_for(lambda: engine.alerts.count() == 1, what="the first alert")
    server.restart()
    bus.publish("incident", [report(400)])
    wait_for(lambda: engine.alerts.count() == 2, what="the alert after the restart")
    run.stop()
    assert run.error is None and engine.store.count_open() == 2


def test_the_escalation_service_carries_on_after_a_redis_restart(server, demo_twin, tmp_path):
    from layers.clock import ManualClock
    from layers.loop.cases import CaseStore
    from layers.loop.escalation import Escalator
    from layers.loop.routing import Router
    from tests.loop.conftest import alert
    bus = connect(server.url, home=tmp_path, prefix="s:")
    clock = ManualClock(time.time())
    store = CaseStore(bus, Router(demo_twin), clock=clock)
    cid, _ = store.ingest(alert(demo_twin, ts=clock()))
    run = Running(lambda stop: Escalator(store).run(stop, interval_s=0.2))
    server.restart()
    clock.advance(3600)
    wait_for(lambda: store.get(cid).level >= 1, what="the escalation after the restart")
    run.stop()
    assert run.error is None
