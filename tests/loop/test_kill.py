"""The rules engine is as exact as ingest: SIGKILL `cityops rules run` mid-tick, three times,
over thousands of grid-inspector reports (the field report had 15,000; 6,000 keep the suite
quick and still give dozens of ticks), and the alerts, cases and audit records are exactly
those of a run nobody killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from layers.loop.audit import AuditLog
from layers.loop.engine import Engine
from layers.loop.rules import load

N_REPORTS = 6_000


def _reports(twin, n: int, now: float) -> list[dict]:
    """Grid-inspector reports over the district, oldest first (stream order = time order)."""
    rng = np.random.default_rng(11)
    land = np.flatnonzero(twin.ds["is_land"].values)
    pos = rng.choice(land, n)
    lat, lng = twin.centers
    cats = rng.choice(["garbage", "road_damage", "streetlight", "noise"], n)
    ts = now - 3000 + np.arange(n) * (2400 / n)
    return [{"id": f"gi-{i}", "ts": repr(float(ts[i])), "lat": repr(float(lat[pos[i]])),
             "lng": repr(float(lng[pos[i]])), "source": "grid_inspector",
             "category": str(cats[i]), "severity": "2", "text": "网格巡查上报"}
            for i in range(n)]


def _publish(bus, reports: list[dict]) -> None:
    import pyarrow as pa

    for start in range(0, len(reports), 1000):  # half flat entries, half Arrow batches
        chunk = reports[start:start + 1000]
        if (start // 1000) % 2:
            bus.publish("incident", pa.Table.from_pylist(chunk), batch=250)
        else:
            bus.publish("incident", chunk)


def _outcome(bus) -> dict:
    """What the loop made of the reports: alert ids, the events of each case, audit records."""
    from layers.loop.alerts import AlertStore
    from layers.loop.cases import CaseStore

    alerts = AlertStore(bus).list(limit=10**6)
    store = CaseStore(bus, None)
    cases = store.many(store.ids())
    records = AuditLog(bus).records()
    return {"alerts": sorted(a.id for a in alerts),
            "cases": sorted(tuple(sorted(c.events)) for c in cases),
            "case_records": sum(r["kind"] == "case" for r in records),
            "actions": sorted(r["data"]["action"] for r in records if r["kind"] == "case")}


def _drain(bus, twin, consumer: str) -> None:
    engine = Engine(bus, twin, load(), consumer=consumer, batch=2000)
    while any(engine.tick()["entries"].values()):
        pass


def _rules_run(bus, consumer: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "rules", "run", "--demo", "binhai",
         "--redis", bus.url, "--prefix", bus.prefix,
         "--consumer", consumer, "--interval", "0.1", "--batch", "100"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


@pytest.mark.slow
def test_sigkilled_rules_engine_ends_with_the_alerts_cases_and_records_of_an_unkilled_run(
        redis_server, demo_twin, tmp_path):
    now = time.time()
    reports = _reports(demo_twin, N_REPORTS, now)
    calm = redis_server.with_prefix("calm:", home=tmp_path / "calm")
    _publish(calm, reports)
    _drain(calm, demo_twin, "calm")
    expected = _outcome(calm)
    assert len(expected["alerts"]) == N_REPORTS  # one alert per report (episode: event)

    killed = redis_server.with_prefix("killed:", home=tmp_path / "killed")
    _publish(killed, reports)
    rng = np.random.default_rng(3)
    for _ in range(3):
        proc = _rules_run(killed, "rules-k")
        line = proc.stderr.readline()  # "rules: ..." once the engine is up
        assert line.startswith(b"rules:"), line + proc.stderr.read()
        before = AuditLog(killed).__len__()
        deadline = time.monotonic() + 120
        while len(AuditLog(killed)) == before and time.monotonic() < deadline:
            time.sleep(0.02)  # kill it while it is working
        time.sleep(float(rng.uniform(0.0, 0.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    _drain(killed, demo_twin, "rules-k")  # the same consumer takes over what was pending
    assert _outcome(killed) == expected
    assert killed.redis.xpending(killed.stream("incident"), "rules")["pending"] == 0
