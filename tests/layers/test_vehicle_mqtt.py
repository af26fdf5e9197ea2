"""The inspection vehicle through the MQTT door (a real mosquitto): its fixes reach the streams
and the live layer; an impossible jump sent over MQTT is refused and dead-lettered."""

from __future__ import annotations

import json
import time

import numpy as np

from layers.live import snapshot
from layers.live.mqtt import Bridge, Sender
from layers.live.patrol import VehicleFeed
from layers.live.worker import Worker
from layers.testing import raw
from tests.layers.test_mqtt import _publisher, _send, mosquitto, needs_broker  # noqa: F401
from tests.layers.test_resilience import Running, wait_for
from tests.layers.test_vehicle import fix, road


@needs_broker
def test_the_demo_vehicle_drives_through_the_mqtt_door_into_the_live_layer(mosquitto, bus, twin):  # noqa: F811
    bridge = Bridge(bus, twin, mosquitto, client_id=f"v-{bus.prefix}")
    run = Running(bridge.run)
    wait_for(lambda: bridge.subscribed, what="the bridge's subscription")
    cells = road(twin)
    feed = VehicleFeed(twin, np.r_[cells, cells[::-1][1:-1]], every_s=2.0, seed=1)
    now = time.time()
    table = feed.generate(now - 600, now - 60)
    sender = Sender(mosquitto, client_id=f"vs-{bus.prefix}", chunk=50)
    sender.send("vehicle", table, source=feed.vehicle)
    sender.close()
    wait_for(lambda: bridge.counts["events"] == table.num_rows, what="every fix bridged")
    run.stop()
    Worker(bus, twin, consumer="w", history=False).drain()
    assert run.error is None and bridge.counts["refused"] == 0
    assert snapshot.read(bus, "vehicle.count", "1h").sum() == table.num_rows
    assert raw(bus).xlen(bus.keys.dead) == 0


@needs_broker
def test_an_impossible_jump_sent_over_mqtt_is_refused_and_dead_lettered(mosquitto, bus, twin):  # noqa: F811
    bridge = Bridge(bus, twin, mosquitto, client_id=f"j-{bus.prefix}")
    run = Running(bridge.run)
    wait_for(lambda: bridge.subscribed, what="the bridge's subscription")
    cells, now = road(twin), time.time()
    pub = _publisher(mosquitto)
    _send(pub, "cityops/vehicle/V1", json.dumps([fix(twin, 0, cells[0], now - 30),
                                                 fix(twin, 1, cells[-1], now - 29)]))
    wait_for(lambda: bridge.counts["refused"] == 1, what="the jump refused")
    run.stop()
    pub.disconnect()
    dead = [f for _, f in raw(bus).xrange(bus.keys.dead)]
    assert len(dead) == 1 and b"impossible jump" in dead[0][b"reason"]
    assert raw(bus).xlen(bus.stream("vehicle")) == 1 and run.error is None
