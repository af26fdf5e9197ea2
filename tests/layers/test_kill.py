"""At-least-once delivery with an exact result: SIGKILL the worker repeatedly during 200k events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from layers.live import snapshot
from layers.live.worker import stats
from tests.layers.conftest import random_points, truth_positions

N_EVENTS = 200_000


def _worker(twin_dir, bus, consumer: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dashboard.cli", "ingest", "--twin", str(twin_dir),
           "--prefix", bus.prefix, "--consumer", consumer, "--checkpoint-s", "0.05",
           "--lease-ms", "1500", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ))


def _wait_started(proc: subprocess.Popen) -> None:
    line = proc.stderr.readline()  # "ingest: consumer ..." once the lease and state are loaded
    assert line.startswith(b"ingest:"), line


@pytest.mark.slow
def test_sigkilled_worker_ends_with_exact_counts(bus, twin, tmp_path):
    twin.save(tmp_path / "twin")
    rng = np.random.default_rng(7)
    lat, lng = random_points(twin, N_EVENTS, rng)
    truth = truth_positions(twin, lat, lng)
    now = time.time()
    kinds = rng.choice(["iot", "video"], N_EVENTS, p=[0.3, 0.7])
    ids = np.char.add("k", np.arange(N_EVENTS).astype(str))
    ts = now - rng.uniform(0, 300, N_EVENTS)
    resend = rng.choice(N_EVENTS, 5_000, replace=False)  # ids sent twice

    def produce() -> None:
        order = np.r_[np.arange(N_EVENTS), resend]
        for chunk in np.array_split(order, 40):
            for kind in ("iot", "video"):
                sel = chunk[kinds[chunk] == kind]
                cols = {"id": ids[sel], "ts": ts[sel], "lat": lat[sel], "lng": lng[sel]}
                cols.update({"sensor": np.full(len(sel), "S"), "metric": np.full(len(sel), "pm25"),
                             "value": np.ones(len(sel))} if kind == "iot" else
                            {"camera": np.full(len(sel), "C"), "label": np.full(len(sel), "person"),
                             "count": np.full(len(sel), 2)})
                table = pa.table(cols)
                half = len(sel) // 2  # half as Arrow batches, half as single flat entries
                bus.publish(kind, table.slice(0, half), batch=500)
                bus.publish(kind, table.slice(half).to_pylist())
            time.sleep(0.1)

    producer = threading.Thread(target=produce)
    producer.start()
    kills = 0
    while producer.is_alive() or kills < 4:
        proc = _worker(tmp_path / "twin", bus, "k1")
        _wait_started(proc)
        time.sleep(float(rng.uniform(0.3, 1.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    producer.join()
    assert kills >= 4
    # a different worker claims k1's pending entries with XAUTOCLAIM once k1's lease lapses;
    # its own lease is long, so a loaded machine cannot make it lapse while it catches up
    final = _worker(tmp_path / "twin", bus, "k2", "--until-idle", "--lease-ms", "60000")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    health = stats(bus)
    assert health["streams"]["iot"]["pending"] == 0 and health["streams"]["video"]["pending"] == 0
    assert (health["counted"], health["dead"]) == (N_EVENTS, 0)
    iot, video = kinds == "iot", kinds == "video"
    n = len(twin)
    np.testing.assert_array_equal(snapshot.read(bus, "iot.count", "24h"),
                                  np.bincount(truth[iot], minlength=n))
    np.testing.assert_array_equal(snapshot.read(bus, "video.count", "24h"),
                                  np.bincount(truth[video], minlength=n))
    np.testing.assert_array_equal(snapshot.read(bus, "video.person.count", "24h"),
                                  2 * np.bincount(truth[video], minlength=n))
    assert (health["counted"], health["dead"], health["duplicates"]) == (N_EVENTS, 0, len(resend))
