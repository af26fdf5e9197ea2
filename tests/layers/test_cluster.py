"""On a real 3-master Redis Cluster: partitioned ingest stays exact under SIGKILL, the closed loop
works (cases, escalation, a verifiable audit log)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.bus import connect
from layers.live.producer import Producer, layout
from layers.live.worker import stats
from tests.layers.conftest import random_points, truth_positions
from tests.redis_cluster import RedisCluster

N_EVENTS = 60_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    nodes = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    yield nodes
    nodes.stop()


def _ingest(twin_dir, url: str, prefix: str, consumer: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "ingest", "--twin", str(twin_dir), "--redis",
         url, "--prefix", prefix, "--consumer", consumer, "--partitions", "2",
         "--checkpoint-s", "0.05", "--lease-ms", "1500", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


def test_sigkilled_workers_on_a_cluster_end_with_exact_counts(cluster, twin, tmp_path):
    twin.save(tmp_path / "twin")
    bus = connect(cluster.url, home=tmp_path, prefix="kill:")
    parts = layout(bus, twin, 2)
    rng = np.random.default_rng(9)
    lat, lng = random_points(twin, N_EVENTS, rng)
    now = time.time()
    ids = np.char.add("c", np.arange(N_EVENTS).astype(str))
    producer = Producer(bus, twin, parts)

    def produce() -> None:
        import pyarrow as pa

        for chunk in np.array_split(np.arange(N_EVENTS), 30):
            table = pa.table({"id": ids[chunk], "ts": np.full(len(chunk), now - 60),
                              "lat": lat[chunk], "lng": lng[chunk],
                              "sensor": np.full(len(chunk), "S"),
                              "metric": np.full(len(chunk), "pm25"),
                              "value": np.ones(len(chunk))})
            half = len(chunk) // 2
            producer.publish("iot", table.slice(0, half), batch=500)
            producer.publish("iot", table.slice(half).to_pylist())
            time.sleep(0.1)

    feeding = threading.Thread(target=produce)
    feeding.start()
    kills = 0
    while feeding.is_alive() or kills < 3:
        workers = [_ingest(tmp_path / "twin", cluster.url, bus.prefix, name)
                   for name in ("w1", "w2")]
        for w in workers:
            assert w.stderr.readline().startswith(b"ingest:")
        time.sleep(float(rng.uniform(0.5, 1.5)))
        for w in workers:
            w.send_signal(signal.SIGKILL)
            w.wait()
        kills += 1
    feeding.join()
    final = _ingest(tmp_path / "twin", cluster.url, bus.prefix, "w3", "--until-idle")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    health = stats(bus)
    assert (health["counted"], health["dead"]) == (N_EVENTS, 0)
    assert health["streams"]["iot"]["pending"] == 0
    np.testing.assert_array_equal(snapshot.read(bus, "iot.count", "24h"),
                                  np.bincount(truth_positions(twin, lat, lng),
                                              minlength=len(twin)))


def test_the_closed_loop_runs_on_a_cluster(cluster, demo_twin, tmp_path):
    from layers.loop.audit import AuditLog
    from layers.loop.engine import Engine
    from layers.loop.escalation import Escalator
    from layers.loop.rules import load

    bus = connect(cluster.url, home=tmp_path, prefix="loop:")
    parts = layout(bus, demo_twin, 2)
    lat, lng = demo_twin.centers
    now = time.time()
    land = np.flatnonzero(demo_twin.ds["is_land"].values)[::1500][:20]
    reports = [{"id": f"r{i}", "ts": repr(now - 30), "lat": repr(float(lat[p])),
                "lng": repr(float(lng[p])), "source": "hotline", "category": "noise",
                "severity": "2", "text": "噪音扰民"} for i, p in enumerate(land)]
    Producer(bus, demo_twin, parts).publish("incident", reports)
    engine = Engine(bus, demo_twin, load())
    summary = engine.tick()
    assert summary["entries"]["incident"] == len(reports) and len(summary["cases"]) > 0
    assert engine.tick()["entries"]["incident"] == 0  # acknowledged on every partition
    assert Escalator(engine.store).tick(now + 7200)  # overdue cases climb
    assert AuditLog(bus).verify().ok
