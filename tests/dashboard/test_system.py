"""The demo's supervisor: a failing part is restarted and reported; the others carry on."""

from __future__ import annotations

import time

from dashboard.system import LiveSystem
from layers.live.health import HealthStore


def test_a_failing_part_is_restarted_and_reported_while_the_others_carry_on(small, tmp_path):
    calls = []

    def flaky(bus, stop):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError("boom")
        while not stop():
            time.sleep(0.05)

    system = LiveSystem(small, rate=50.0, home=tmp_path, prefix="sup:",
                        services=[("flaky", flaky)], history=False)
    try:
        deadline = time.monotonic() + 120
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(calls) == 3 and system.restarts["flaky"] == 2
        report = HealthStore(system.bus).summary()["demo-flaky"]
        assert report["restarts"] == 2 and "boom" in report["last_error"]
        assert all(t.is_alive() for t in system.threads if t.name in ("ingest", "feed"))
    finally:
        system.stop()
