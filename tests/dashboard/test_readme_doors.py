"""The README's "Feeding it your data" runs as written: its sh blocks, in order, in one bash,
against an embedded Redis on TCP with its password, the demo's embedded MQTT broker and the
bridge, and the served dashboard (the event API and Open311)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dashboard.browser import free_port, serve

README = Path(__file__).resolve().parents[2] / "README.md"
TOOLS = ("redis-cli", "mosquitto_pub", "curl")


def section_blocks(title: str = "## Feeding it your data") -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return re.findall(r"```sh\n(.*?)```", text[start:end if end > 0 else None], re.S)


def test_the_section_has_an_example_of_every_door():
    script = "\n".join(section_blocks())
    for needle in ("redis-cli", "arrow", "mosquitto_pub", "/api/v1/events/", "/open311/v2/",
                   "media=@"):
        assert needle in script, needle


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                    reason=f"needs {', '.join(TOOLS)} (.ci/run installs them)")
def test_the_feeding_examples_run_as_written(tmp_path, monkeypatch, demo_twin):
    from PIL import Image

    from dashboard.app import create_app
    from dashboard.broker import EmbeddedBroker
    from layers.live.bus import connect
    from layers.live.mqtt import Bridge, Broker
    from layers.testing import raw, stop_server
    from tests.layers.test_resilience import Running, wait_for
    from twin import settings

    home = tmp_path / "home"
    mqtt_port = free_port()
    monkeypatch.setenv("CITYOPS_HOME", str(home))
    monkeypatch.setenv("CITYOPS_REDIS_PORT", str(free_port()))
    monkeypatch.setenv("CITYOPS_MQTT_PORT", str(mqtt_port))
    for name in ("REDIS_URL", "CITYOPS_OPEN311_KEYS", "CITYOPS_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    bus = connect(home=home, fsync="no")
    broker = EmbeddedBroker(port=mqtt_port).start()
    bridge = Bridge(bus, demo_twin, Broker("127.0.0.1", mqtt_port, False, broker.user,
                                           broker.password), client_id="readme-bridge")
    running = Running(bridge.run)
    url, server = serve(create_app(demo_twin, bus=bus, api_keys=settings.open311_demo_keys()))
    try:
        wait_for(lambda: bridge.subscribed, what="the bridge's subscription")
        Image.new("RGB", (8, 8)).save(buf := io.BytesIO(), "JPEG")
        (tmp_path / "photo.jpg").write_bytes(buf.getvalue())
        env = dict(os.environ, CITYOPS_URL=url,
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        script = "set -euo pipefail\n" + "\n".join(section_blocks())
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, timeout=300,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        wait_for(lambda: bridge.counts["events"] == 1, what="the MQTT event in Redis")
        r = raw(bus)
        assert r.xlen(bus.stream("iot")) == 3  # redis-cli, one Arrow batch, MQTT
        assert r.xlen(bus.stream("video")) == 1  # the HTTP request, one batch entry
        assert r.xlen(bus.stream("incident")) == 2  # the two Open311 reports
        assert bus.dead_count() == 0, r.xrange(bus.keys.partition(0).dead)
        assert '"accepted": 2' in done.stdout.replace('"accepted":2', '"accepted": 2')
        assert "<service_requests>" in done.stdout and "GeoReport_v2" in done.stdout
    finally:
        running.stop()
        server.shutdown()
        broker.stop()
        stop_server(bus)
