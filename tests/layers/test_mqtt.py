"""The MQTT door against a real broker (Debian's mosquitto): exact under SIGKILL, bad input
dead-lettered, the bridge never dies of input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.health import HealthStore
from layers.live.mqtt import Bridge, Broker, decode_payload, kind_of
from layers.live.worker import Worker, stats
from layers.testing import raw
from tests.layers.conftest import iot_events
from tests.layers.test_resilience import Running, wait_for
from tests.redis_process import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
needs_broker = pytest.mark.skipif(
    not os.path.exists(MOSQUITTO) and not os.environ.get("CI"),
    reason="mosquitto is not installed (apt-get install mosquitto; required in CI)")


@pytest.fixture
def mosquitto(tmp_path):
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence true\npersistence_location {tmp_path}/\n"
                    f"max_queued_messages 0\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    broker = Broker("127.0.0.1", port)
    wait_for(lambda: _connects(port), timeout_s=60, what="mosquitto")
    yield broker
    proc.terminate()
    proc.wait(timeout=30)


def _connects(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _publisher(broker: Broker):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _send(client, topic: str, payload: bytes | str) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(timeout=30)


# -- payloads --------------------------------------------------------------------------------------
def test_a_payload_is_one_event_or_an_array_of_them():
    assert decode_payload(b'{"id": "a"}') == [{"id": "a"}]
    assert decode_payload(b'[{"id": "a"}, {"id": "b", "x": null}]') == [{"id": "a"},
                                                                        {"id": "b"}]


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not json", "not JSON"), (b"\xff\xfe{}", "not UTF-8"), (b"42", "object or an array"),
    (b'[{"id": 1}, 7]', "object or an array"), (b"[" + b" " * 2_000_000 + b"]", "over the")])
def test_a_bad_payload_is_refused_with_the_reason(payload, reason):
    with pytest.raises(ValueError, match=reason):
        decode_payload(payload)


def test_the_topic_names_the_kind():
    assert kind_of("cityops/video/cam-12", "cityops") == "video"
    assert kind_of("cityops/weather/x", "cityops") is None


# -- through the broker -----------------------------------------------------------------------------
@needs_broker
def test_events_published_with_paho_and_mosquitto_pub_are_counted(mosquitto, bus, twin):
    bridge = Bridge(bus, twin, mosquitto, client_id=f"b-{bus.prefix}")
    run = Running(bridge.run)
    wait_for(lambda: bridge.subscribed, what="the bridge's subscription")
    events = iot_events(twin, 120, np.random.default_rng(6))
    pub = _publisher(mosquitto)
    for i in range(0, 100, 20):
        _send(pub, "cityops/iot/gw-1", json.dumps(events[i:i + 20]))
    for event in events[100:]:
        subprocess.run([shutil.which("mosquitto_pub") or "mosquitto_pub", "-h", "127.0.0.1",
                        "-p", str(mosquitto.port), "-q", "1", "-t", "cityops/iot/gw-2",
                        "-m", json.dumps(event)], check=True, timeout=60)
    wait_for(lambda: bridge.counts["events"] == 120, what="the bridge to write 120 events")
    run.stop()
    pub.disconnect()
    Worker(bus, twin, consumer="w", history=False).drain()
    assert run.error is None and snapshot.read(bus, "iot.count", "24h").sum() == 120


@needs_broker
def test_malformed_payloads_are_dead_lettered_with_topic_and_reason(mosquitto, bus, twin):
    bridge = Bridge(bus, twin, mosquitto, client_id=f"d-{bus.prefix}")
    run = Running(bridge.run)
    wait_for(lambda: bridge.subscribed, what="the bridge's subscription")
    pub = _publisher(mosquitto)
    for payload in (b"{broken", b"\x00\x01", b'"a string"'):
        _send(pub, "cityops/video/cam-9", payload)
    _send(pub, "cityops/iot/ok", json.dumps(iot_events(twin, 1, np.random.default_rng(7))))
    wait_for(lambda: bridge.counts["dead"] == 3 and bridge.counts["events"] == 1,
             what="three dead letters and one good event")
    run.stop()
    pub.disconnect()
    dead = [f for _, f in raw(bus).xrange(bus.keys.dead)]
    assert {f[b"topic"] for f in dead} == {b"cityops/video/cam-9"}
    assert all(f[b"reason"] and f[b"sha256"] for f in dead) and run.error is None


@needs_broker
def test_a_sigkilled_bridge_loses_nothing_and_counts_nothing_twice(mosquitto, bus, twin,
                                                                   tmp_path):
    twin.save(tmp_path / "twin")
    n_messages, per = 300, 10
    events = iot_events(twin, n_messages * per, np.random.default_rng(8))

    def bridge() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "bridge", "mqtt", "--broker",
             f"mqtt://127.0.0.1:{mosquitto.port}", "--twin", str(tmp_path / "twin"),
             "--redis", bus.url, "--prefix", bus.prefix, "--client-id", "kill-bridge"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))

    first = bridge()
    assert first.stderr.readline().startswith(b"bridge:")
    health = HealthStore(bus)
    wait_for(lambda: health.summary().get("kill-bridge", {}).get("state") == "running",
             what="the bridge's persistent session (its first subscription)")
    pub = _publisher(mosquitto)
    sending = threading.Thread(target=lambda: [
        _send(pub, "cityops/iot/gw", json.dumps(events[i * per:(i + 1) * per]))
        for i in range(n_messages)])
    sending.start()
    kills, rng = 0, np.random.default_rng(9)
    proc = first
    while sending.is_alive() or kills < 3:
        time.sleep(float(rng.uniform(0.2, 0.8)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = bridge()
        assert proc.stderr.readline().startswith(b"bridge:")
    sending.join()
    worker = Worker(bus, twin, consumer="w", history=False)

    def counted() -> bool:
        worker.drain()
        return stats(bus)["counted"] >= len(events)

    wait_for(counted, timeout_s=240, what="every event through the restarted bridges")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    pub.disconnect()
    health = stats(bus)
    assert (health["counted"], health["dead"]) == (len(events), 0)
    assert snapshot.read(bus, "iot.count", "24h").sum() == len(events)
