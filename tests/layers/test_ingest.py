"""Ingest: exact per-cell counts, dedup, CRS conversion, windows, metrics, batches, history."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from layers.live import history, snapshot
from layers.live.worker import Worker, stats
from tests.layers.conftest import iot_events, random_points, truth_positions


def _counts(pos, n, weights=None):
    return np.bincount(pos, weights=weights, minlength=n).astype(np.float32)


def test_per_cell_counts_match_h3_ground_truth(bus, twin):
    rng = np.random.default_rng(1)
    events = iot_events(twin, 3000, rng)
    bus.publish("iot", events)
    Worker(bus, twin, consumer="w").drain()
    truth = truth_positions(twin, [float(e["lat"]) for e in events],
                            [float(e["lng"]) for e in events])
    assert (truth >= 0).all()
    for window in ("5m", "1h", "24h"):
        np.testing.assert_array_equal(snapshot.read(bus, "iot.count", window),
                                      _counts(truth, len(twin)))


def test_metric_layers_give_mean_max_and_last_per_cell(bus, twin):
    lat, lng = twin.centers
    now = time.time()
    rows = [(now - 50, 10.0), (now - 40, 30.0), (now - 20, 20.0)]
    bus.publish("iot", [{"id": f"m{i}", "ts": ts, "lat": lat[5], "lng": lng[5], "sensor": "S",
                         "metric": "pm25", "value": v} for i, (ts, v) in enumerate(rows)])
    Worker(bus, twin, consumer="w").drain()
    assert snapshot.read(bus, "iot.pm25.mean", "1h")[5] == pytest.approx(20.0)
    assert snapshot.read(bus, "iot.pm25.max", "1h")[5] == 30.0
    assert snapshot.read(bus, "iot.pm25.last", "1h")[5] == 20.0
    assert np.isnan(snapshot.read(bus, "iot.pm25.mean", "1h")[6])
    assert np.isnan(snapshot.read(bus, "iot.co_ppm.max", "1h")[5])


def test_event_id_sent_twice_is_counted_once(bus, twin):
    events = iot_events(twin, 500, np.random.default_rng(2))
    bus.publish("iot", events)
    bus.publish("iot", events[:200])
    worker = Worker(bus, twin, consumer="w")
    worker.drain()
    bus.publish("iot", events[100:300])  # again, after a checkpoint
    worker.drain()
    assert snapshot.read(bus, "iot.count", "24h").sum() == 500
    assert stats(bus)["duplicates"] == 400


def test_gcj02_and_bd09_input_land_in_the_wgs84_cell(bus, twin):
    rng = np.random.default_rng(3)
    lat, lng = random_points(twin, 200, rng)
    truth = truth_positions(twin, lat, lng)
    glat, glng = twin.crs.from_wgs84(lat, lng, "gcj02")
    blat, blng = twin.crs.from_wgs84(lat, lng, "bd09")
    now = time.time()
    for crs, (la, ln) in {"gcj02": (glat, glng), "bd09": (blat, blng)}.items():
        bus.publish("video", [{"id": f"{crs}{i}", "ts": now - 5, "lat": float(la[i]),
                               "lng": float(ln[i]), "crs": crs, "camera": "C",
                               "label": "person", "count": 1} for i in range(len(la))])
    Worker(bus, twin, consumer="w").drain()
    np.testing.assert_array_equal(snapshot.read(bus, "video.count", "5m"),
                                  2 * _counts(truth, len(twin)))
    # without the conversion, a good share of the points would land in another cell
    assert (twin.locate(glat, glng) != truth).mean() > 0.2


def test_arrow_batches_count_like_flat_entries(bus, twin):
    rng = np.random.default_rng(4)
    lat, lng = random_points(twin, 5000, rng)
    now = time.time()
    table = pa.table({"id": [f"v{i}" for i in range(5000)], "ts": np.full(5000, now - 10),
                      "lat": lat, "lng": lng, "camera": ["C1"] * 5000,
                      "label": rng.choice(["person", "vehicle"], 5000),
                      "count": rng.integers(1, 5, 5000)})
    bus.publish("video", table, batch=700)
    Worker(bus, twin, consumer="w").drain()
    truth = truth_positions(twin, lat, lng)
    person = table.column("label").to_numpy(zero_copy_only=False) == "person"
    np.testing.assert_array_equal(snapshot.read(bus, "video.count", "1h"),
                                  _counts(truth, len(twin)))
    np.testing.assert_array_equal(snapshot.read(bus, "video.person.count", "1h"),
                                  _counts(truth[person], len(twin),
                                          table.column("count").to_numpy()[person]))


def test_incident_categories_and_iso_timestamps(bus, twin):
    lat, lng = twin.centers
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    bus.publish("incident", [{"id": f"i{i}", "ts": iso, "lat": lat[i], "lng": lng[i],
                              "source": "hotline", "category": "noise", "severity": 2,
                              "text": "夜间施工噪音扰民"} for i in range(10)])
    Worker(bus, twin, consumer="w").drain()
    assert snapshot.read(bus, "incident.noise.count", "1h")[:10].tolist() == [1.0] * 10
    assert snapshot.read(bus, "incident.count", "1h").sum() == 10


def test_windows_roll_by_event_time_with_an_injected_clock(bus, twin):
    lat, lng = twin.centers
    t0 = 1_800_000_000.0
    clock = {"now": t0}
    ages = {"a": 60, "b": 30 * 60, "c": 5 * 3600}
    bus.publish("iot", [{"id": k, "ts": t0 - age, "lat": lat[0], "lng": lng[0], "sensor": "S",
                         "metric": "temp_c", "value": 1} for k, age in ages.items()])
    worker = Worker(bus, twin, consumer="w", clock=lambda: clock["now"])
    worker.drain()
    counts = {w: snapshot.read(bus, "iot.count", w)[0] for w in ("5m", "1h", "24h")}
    assert counts == {"5m": 1, "1h": 2, "24h": 3}
    clock["now"] = t0 + 20 * 3600  # 'c' is now 25 h old: out of every window
    worker.checkpoint()
    assert snapshot.read(bus, "iot.count", "24h")[0] == 2
    assert snapshot.read(bus, "iot.count", "5m")[0] == 0


def test_late_event_for_a_closed_minute_is_counted(bus, twin):
    lat, lng = twin.centers
    now = time.time()
    worker = Worker(bus, twin, consumer="w")
    bus.publish("iot", [{"id": "x1", "ts": now - 600, "lat": lat[0], "lng": lng[0],
                         "sensor": "S", "metric": "pm25", "value": 5}])
    worker.drain()
    bus.publish("iot", [{"id": "x2", "ts": now - 601, "lat": lat[0], "lng": lng[0],
                         "sensor": "S", "metric": "pm25", "value": 7}])
    worker.drain()
    assert snapshot.read(bus, "iot.count", "1h")[0] == 2
    assert snapshot.read(bus, "iot.pm25.max", "1h")[0] == 7


def test_restarted_worker_resumes_from_its_checkpoint(bus, twin):
    events = iot_events(twin, 1000, np.random.default_rng(5))
    bus.publish("iot", events[:600])
    Worker(bus, twin, consumer="w").drain()
    bus.publish("iot", events[400:])
    Worker(bus, twin, consumer="w").drain()  # same consumer name: takes over at once
    assert snapshot.read(bus, "iot.count", "24h").sum() == 1000


def test_snapshot_reports_the_cells_changed_since_a_version(bus, twin):
    lat, lng = twin.centers
    now = time.time()
    worker = Worker(bus, twin, consumer="w")
    bus.publish("iot", [{"id": "a", "ts": now, "lat": lat[3], "lng": lng[3], "sensor": "S",
                         "metric": "pm25", "value": 1}])
    worker.drain()
    v1 = snapshot.version(bus)
    bus.publish("incident", [{"id": "b", "ts": now, "lat": lat[9], "lng": lng[9],
                              "source": "app", "category": "garbage", "severity": 1}])
    worker.drain()
    version, cells, layers = snapshot.changes_since(bus, v1)
    assert version > v1  # one new version (versions only grow)
    assert cells.tolist() == [9]
    assert "1h/incident.garbage.count" in layers and "1h/iot.count" not in layers
    assert snapshot.changes_since(bus, version)[1].size == 0
    assert snapshot.changes_since(bus, -5)[1] is None  # too old: read everything again
    assert len(snapshot.cells(bus)) == len(twin)


def test_history_gives_per_minute_layers_from_the_bus_and_from_disk(bus, twin):
    lat, lng = twin.centers
    t0 = 1_800_000_000.0 - 1_800_000_000.0 % 60
    clock = {"now": t0}
    bus.publish("iot", [{"id": f"h{i}", "ts": t0 - 60 * (i % 5) - 1, "lat": lat[i % 3],
                         "lng": lng[i % 3], "sensor": "S", "metric": "pm25", "value": i}
                        for i in range(50)])
    worker = Worker(bus, twin, consumer="w", clock=lambda: clock["now"])
    worker.drain()
    clock["now"] = t0 + 600  # every minute closes: files are written
    worker.checkpoint()
    for source in (bus, bus.history_dir):
        ds = history.load(source, t0 - 600, t0, ["iot.count", "iot.pm25.max"])
        assert ds["iot.count"].dims == ("time", "cell")
        assert ds.sizes["cell"] == len(twin)
        assert float(ds["iot.count"].sum()) == 50
        assert float(ds["iot.count"].sel(time=ds.time[-2]).sum()) == 10
        assert float(ds["iot.pm25.max"].max()) == 49


def test_health_reports_rates_lag_pending_and_dead_letters(bus, twin):
    bus.publish("iot", iot_events(twin, 100, np.random.default_rng(6)))
    bus.publish("iot", [{"id": "bad", "ts": "soon"}])
    worker = Worker(bus, twin, consumer="w")
    worker.start()
    before = stats(bus)
    assert before["streams"]["iot"]["lag"] == 101
    worker.drain()
    health = stats(bus)
    assert health["counted"] == 100 and health["dead"] == 1 and health["dead_letters"] == 1
    assert health["streams"]["iot"] == {"length": 101, "pending": 0, "lag": 0}
    assert health["last_event_ts"] > time.time() - 120
    assert set(health) >= {"events_per_s", "heartbeat", "snapshot_version"}


def test_reads_fewer_entries_at_a_time_when_entries_are_big_batches(bus, twin):
    lat, lng = twin.centers
    now = time.time()
    table = pa.table({"id": [f"b{i}" for i in range(20_000)], "ts": np.full(20_000, now),
                      "lat": np.full(20_000, lat[0]), "lng": np.full(20_000, lng[0]),
                      "camera": ["C"] * 20_000, "label": ["person"] * 20_000})
    bus.publish("video", table, batch=10_000)
    worker = Worker(bus, twin, consumer="w")
    worker.drain()
    assert worker.count < 100
    for _ in range(3):
        bus.publish("iot", iot_events(twin, 3000, np.random.default_rng(9), prefix=f"f{_}"))
        worker.drain()
    assert worker.count == 1000
    assert snapshot.read(bus, "video.count", "5m")[0] == 20_000


def test_the_same_id_text_in_two_kinds_is_two_events():
    from layers.live.idset import hash_bytes_list
    from layers.live.validate import KIND_SALT

    ids = [b"g1", b"v1", b"e7", b"t7"]  # first characters 15 apart: the salts' spacing
    by_kind = {k: set(hash_bytes_list(ids, salt).tolist()) for k, salt in KIND_SALT.items()}
    kinds = list(by_kind)
    for i, a in enumerate(kinds):
        assert len(by_kind[a]) == len(ids)
        for b in kinds[i + 1:]:
            assert not by_kind[a] & by_kind[b], (a, b)


def test_events_of_each_kind_are_counted_per_minute(bus, twin):
    from layers.live.checkpoint import CheckpointStore

    now = time.time()
    minute, before = int((now - 1) // 60), int((now - 61) // 60)
    events = iot_events(twin, 30, np.random.default_rng(9))
    for e in events:
        e["ts"] = repr(now - 1)
    bus.publish("iot", events)
    lat, lng = twin.centers
    bus.publish("incident", [{"id": f"t{i}", "ts": repr(now - 61), "lat": lat[3], "lng": lng[3],
                              "source": "hotline", "category": "noise", "severity": "1",
                              "text": "x"} for i in range(4)])
    Worker(bus, twin, consumer="w").drain()
    totals = CheckpointStore(bus).totals(before, minute)
    assert totals[minute]["iot"] == 30 and totals[before]["incident"] == 4
    assert totals[before]["iot"] == 0
