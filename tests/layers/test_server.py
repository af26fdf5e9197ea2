"""The embedded Redis as a door for producers: 127.0.0.1 with a password, files private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import redis

from layers.live import snapshot
from layers.live.bus import connect
from layers.live.worker import Worker
from layers.testing import stop_server
from tests.layers.conftest import iot_events
from tests.redis_process import free_port


@pytest.fixture
def tcp_home(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("CITYOPS_REDIS_PORT", str(port))
    bus = connect(home=tmp_path, prefix="tcp:")
    yield tmp_path, port, bus
    stop_server(bus)


def _cli(home, port, *argv) -> subprocess.CompletedProcess:
    env = dict(os.environ, CITYOPS_HOME=str(home), CITYOPS_REDIS_PORT=str(port))
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_producer_with_the_password_writes_over_tcp_and_the_events_count(tcp_home, twin):
    home, port, bus = tcp_home
    url = bus.producer_url(show_secret=True)
    assert url.startswith("redis://default:") and url.endswith(f"@127.0.0.1:{port}/0")
    producer = redis.Redis.from_url(url)
    for event in iot_events(twin, 25, np.random.default_rng(1)):
        producer.xadd("tcp:events:iot", event)
    Worker(bus, twin, consumer="w", history=False).drain()
    assert snapshot.read(bus, "iot.count", "24h").sum() == 25


def test_without_the_password_the_server_refuses(tcp_home):
    _, port, _ = tcp_home
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).xadd("tcp:events:iot", {"id": "x"})


def test_the_password_and_the_servers_files_are_private(tcp_home):
    home, _, _ = tcp_home
    folder = home / "redis"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in files)
    assert (folder / "password").exists()


def test_bus_info_prints_the_url_with_the_password_masked_unless_asked(tcp_home):
    home, port, bus = tcp_home
    shown = json.loads(_cli(home, port, "bus", "info").stdout)
    assert shown["producer_url"] == f"redis://default:****@127.0.0.1:{port}/0"
    secret = json.loads(_cli(home, port, "bus", "info", "--show-secret").stdout)
    assert secret["producer_url"] == bus.producer_url(show_secret=True)


def test_a_second_process_on_the_same_home_joins_the_running_server(tcp_home):
    home, _, bus = tcp_home
    again = connect(home=home, prefix="tcp:")
    assert again.redis.info("server")["process_id"] == bus.redis.info("server")["process_id"]


def test_another_home_takes_the_next_free_port_and_says_so(tcp_home, tmp_path_factory, capfd):
    _, port, _ = tcp_home
    other = connect(home=tmp_path_factory.mktemp("other-home"), prefix="o:")
    try:
        taken = other.producer_url()
        assert taken is not None and f":{port}/" not in taken
        assert f"({port} is taken)" in capfd.readouterr().err
    finally:
        stop_server(other)
