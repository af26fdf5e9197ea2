"""The MQTT door (IoT gateways, video boxes): MQTT messages -> the event streams, nothing lost.

`Bridge` subscribes to `{prefix}/{kind}/#` for every event kind (iot, video, incident, vehicle) with QoS 1
on a persistent session (clean_session off, a fixed client id), and acknowledges a message to
the broker only once its events are in Redis: a bridge killed in between gets the message again
from the broker, and the ingest worker's id dedup makes the count exact. A payload is one JSON
object (the fields of a flat stream entry) or a JSON array of them, UTF-8, at most
`max_bytes` (1 MB); anything else goes to the dead letters with the topic and the reason, and
is acknowledged (it can never become valid). Redis trouble: the bridge disconnects without
acknowledging and retries with backoff, so the broker keeps the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from layers.clock import pause
from layers.live.bus import Bus
from layers.live.decode import payload_record
from layers.live.health import HealthStore
from layers.live.producer import Producer
from layers.live.schema import KINDS

MAX_BYTES = 1_000_000
EXCERPT = 256
log = logging.getLogger("cityops.mqtt")


class BridgeError(RuntimeError):
    """The bridge cannot run as configured; the message says what to change."""


@dataclass(frozen=True)
class Broker:
    """Where the bridge connects: host, port, TLS, credentials (from `mqtt://` or `mqtts://`)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @staticmethod
    def parse(url: str, username: str | None = None, password: str | None = None,
              tls: bool = False) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise BridgeError(f"bad broker URL {url!r}: use mqtt://host:port or mqtts://host:port")
        secure = tls or parts.scheme in ("mqtts", "ssl")
        return Broker(parts.hostname, parts.port or (8883 if secure else 1883), secure,
                      username or parts.username, password or parts.password)


def decode_payload(payload: bytes, max_bytes: int = MAX_BYTES) -> list[dict]:
    """The events of a payload, or a ValueError saying what is wrong (size checked first)."""
    if len(payload) > max_bytes:
        raise ValueError(f"payload of {len(payload):,} bytes, over the {max_bytes:,} limit: send "
                         f"smaller messages")
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"payload is not UTF-8 ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload is not JSON ({exc.msg} at {exc.pos})") from exc
    events = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
    if events is None or not all(isinstance(e, dict) for e in events):
        raise ValueError("payload must be a JSON object or an array of objects (the fields of "
                         "an event)")
    return [{str(k): v for k, v in e.items() if v is not None} for e in events]


def kind_of(topic: str, prefix: str) -> str | None:
    """The event kind a topic carries (`cityops/iot/...` -> iot), or None."""
    parts = topic.split("/")
    if len(parts) >= 2 and parts[0] == prefix and parts[1] in KINDS:
        return parts[1]
    return None


class Bridge:
    """MQTT -> Redis for one bus and twin."""

    def __init__(self, bus: Bus, twin, broker: Broker, topic_prefix: str = "cityops",
                 client_id: str = "cityops-bridge", max_bytes: int = MAX_BYTES) -> None:
        self.bus, self.broker, self.prefix = bus, broker, topic_prefix
        self.client_id, self.max_bytes = client_id, max_bytes
        self.producer = Producer(bus, twin)
        self.health = HealthStore(bus)
        self.counts = {"messages": 0, "events": 0, "dead": 0, "refused": 0}
        self.client = None
        self.subscribed = False
        self._redis_down: Exception | None = None

    # -- handling one message -------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> None:
        """Write a message's events (or its dead letter); raises on Redis trouble."""
        kind = kind_of(topic, self.prefix)
        try:
            if kind is None:
                raise ValueError(f"topic {topic!r} is not {self.prefix}/{'|'.join(KINDS)}/...")
            events = decode_payload(payload, self.max_bytes)
        except ValueError as exc:
            self.bus.dead_letter(payload_record(payload, str(exc), "mqtt", EXCERPT,
                                                topic=topic))
            self.counts["dead"] += 1
            return
        written = self.producer.publish(kind, events) if events else 0
        self.counts["messages"] += 1
        self.counts["events"] += len(events)
        self.counts["refused"] += len(events) - written  # vehicle jumps: dead-lettered

    def _on_message(self, client, _userdata, message) -> None:
        if self._redis_down is not None:
            return  # not acknowledged: the broker sends it again after we reconnect
        try:
            self.handle(message.topic, message.payload)
        except (redis.RedisError, OSError) as exc:
            self._redis_down = exc
            client.disconnect()
            return
        client.ack(message.mid, message.qos)

    # -- the connection -----------------------------------------------------------------------
    def _connect(self):
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, manual_ack=True)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.on_message = self._on_message

        def subscribe(c, _userdata, _flags, reason, _props) -> None:
            if not reason.is_failure:
                c.subscribe([(f"{self.prefix}/{k}/#", 1) for k in KINDS])

        def subscribed(_c, _userdata, _mid, _reasons, _props) -> None:
            self.subscribed = True  # from now on the broker keeps our messages for us
            self.health.report(self.client_id, "running")

        client.on_connect = subscribe
        client.on_subscribe = subscribed
        client.connect(self.broker.host, self.broker.port, keepalive=30)
        return client

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Bridge until `stop()`; broker or Redis trouble makes it reconnect with backoff."""
        delay = 1.0
        while not stop():
            try:
                self.client = self._connect()
                self._redis_down = None
                while not stop() and self._redis_down is None:
                    rc = self.client.loop(timeout=0.5)
                    if rc != 0:
                        raise ConnectionError(f"MQTT connection lost (code {rc})")
                    delay = 1.0
                if self._redis_down is not None:
                    raise self._redis_down
            except (OSError, ConnectionError, redis.RedisError) as exc:
                log.warning("bridge %s: %s; reconnecting in %.0f s", self.client_id, exc, delay)
                self.health.report(self.client_id, "reconnecting", str(exc))
                pause(delay, stop)
                delay = min(2 * delay, 30.0)
            finally:
                if self.client is not None:
                    self.client.disconnect()
                    self.client = None
        self.health.report(self.client_id, "stopped")


class Sender:
    """Publishes events to a broker as JSON arrays (QoS 1), as a gateway would: the demo feed's
    IoT readings take this door, so it is exercised whenever the demo runs."""

    def __init__(self, broker: Broker, topic_prefix: str = "cityops",
                 client_id: str = "cityops-feed", chunk: int = 2000) -> None:
        import paho.mqtt.client as mqtt

        self.prefix, self.chunk = topic_prefix, chunk
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set()
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def send(self, kind: str, table, source: str = "feed") -> int:
        """Publish a pyarrow table's rows in JSON arrays of `chunk`; the number sent."""
        rows = table.to_pylist()
        infos = [self.client.publish(f"{self.prefix}/{kind}/{source}",
                                     json.dumps(rows[i:i + self.chunk], default=str), qos=1)
                 for i in range(0, len(rows), self.chunk)]
        for info in infos:
            info.wait_for_publish(timeout=30)
        return len(rows)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
