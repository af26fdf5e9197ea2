"""Notifications through an outbox: SMS reminders and department pushes, with pluggable gateways.

Producers append messages to the stream `{prefix}outbox` (template id, recipient, channel,
language, parameters) — cheap, and written in the same place as everything else, so nothing is
lost if a gateway is down. `Dispatcher.drain(gateway)` reads the outbox with consumer group
`notify`, renders each template (data/templates/messages.yaml, zh/en) and hands it to the
gateway; a message whose gateway raises stays pending and is retried, and goes to
`{prefix}outbox:dead` after `max_attempts`. The default gateway appends JSON lines to a log file.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Protocol

import yaml

from layers.live.bus import Bus, GroupReader
from twin import settings

GROUP = "notify"
log = logging.getLogger("cityops.notify")


@cache
def templates(path: str | None = None) -> dict[str, dict[str, str]]:
    """Template id -> {lang: text}."""
    file = Path(path) if path else settings.data_dir() / "templates" / "messages.yaml"
    return yaml.safe_load(file.read_text(encoding="utf-8")) or {}


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, params: dict, lang: str = "zh") -> str:
    """The text of a template in a language (zh, en); unknown fields stay as {name}."""
    table = templates()
    if template not in table:
        raise KeyError(f"unknown message template {template!r}: see data/templates/messages.yaml "
                       f"({', '.join(sorted(table))})")
    texts = table[template]
    return texts.get(lang, texts.get("zh", "")).format_map(_Keep(params))


class Gateway(Protocol):
    """Delivers one rendered message; raises to have it retried."""

    def send(self, message: dict) -> None: ...


class LogGateway:
    """The default gateway: one JSON line per message in a log file (and the Python log)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, message: dict) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(message, ensure_ascii=False) + "\n")
        log.info("notify %s -> %s: %s", message.get("channel"), message.get("to"),
                 message.get("text"))


class Outbox:
    """Appends messages to the outbox stream."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.key = bus.keys.outbox()

    def queue(self, pipe, template: str, to: str, params: dict, channel: str = "push",
              lang: str = "zh", ts: float | None = None) -> None:
        """Queue one message into a pipeline (so it is written with what caused it)."""
        if template not in templates():  # fail at the producer, not in the gateway
            raise KeyError(f"unknown message template {template!r}: see "
                           f"data/templates/messages.yaml ({', '.join(sorted(templates()))})")
        pipe.xadd(self.key, {"template": template, "to": to, "channel": channel, "lang": lang,
                             "ts": repr(float(ts or 0.0)),
                             "params": json.dumps(params, ensure_ascii=False)})

    def send(self, template: str, to: str, params: dict, channel: str = "push",
             lang: str = "zh", ts: float | None = None) -> None:
        pipe = self.bus.redis.pipeline(transaction=False)
        self.queue(pipe, template, to, params, channel, lang, ts)
        pipe.execute()

    def messages(self) -> list[dict]:
        """Every message in the outbox (for tools and tests), oldest first."""
        out = []
        for eid, f in self.bus.redis.xrange(self.key):
            row = {k.decode(): v.decode() for k, v in f.items()}
            row["params"] = json.loads(row.get("params") or "{}")
            row["entry"] = eid.decode()
            out.append(row)
        return out


class Dispatcher:
    """Reads the outbox (group `notify`) and hands rendered messages to a gateway."""

    def __init__(self, bus: Bus, consumer: str = "notify-1", max_attempts: int = 5) -> None:
        self.bus, self.consumer, self.max_attempts = bus, consumer, max_attempts
        self.key, self.dead = bus.keys.outbox(), bus.keys.outbox("dead")
        self.attempts = bus.keys.outbox("attempts")
        self.reader = GroupReader(bus, GROUP, consumer, [self.key])

    def drain(self, gateway: Gateway, count: int = 500) -> dict[str, int]:
        """Deliver every waiting message (retrying pending ones first); counts sent/failed/dead."""
        stats = {"sent": 0, "failed": 0, "dead": 0}
        batches = [self.reader.claim(count)[self.key]]
        while True:
            got = self.reader.read(count)[self.key]
            if not got:
                break
            batches.append(got)
        for items in batches:
            for eid, fields in items:
                self._deliver(gateway, eid, dict(zip(fields[0::2], fields[1::2], strict=False)),
                              stats)
        return stats

    def _deliver(self, gateway: Gateway, eid, fields: dict, stats: dict) -> None:
        row = {k.decode(): v.decode("utf-8", "replace") for k, v in fields.items()}
        try:
            params = json.loads(row.get("params") or "{}")
            message = {"id": eid.decode(), "to": row.get("to"), "channel": row.get("channel"),
                       "lang": row.get("lang", "zh"), "template": row.get("template"),
                       "ts": float(row.get("ts") or 0),
                       "text": render(row.get("template", ""), params, row.get("lang", "zh"))}
        except (KeyError, ValueError) as exc:  # a broken message can never be delivered
            self._bury(eid, row, f"cannot render: {exc}", stats)
            return
        try:
            gateway.send(message)
        except Exception as exc:  # noqa: BLE001 - any gateway failure means retry later
            attempts = self.bus.redis.hincrby(self.attempts, eid, 1)
            if attempts >= self.max_attempts:
                self._bury(eid, row, f"gateway failed {attempts} times: {exc}", stats)
            else:
                stats["failed"] += 1
            return
        self.bus.redis.xack(self.key, GROUP, eid)
        stats["sent"] += 1

    def _bury(self, eid, row: dict, reason: str, stats: dict) -> None:
        pipe = self.bus.redis.pipeline(transaction=True)
        pipe.xadd(self.dead, {**row, "reason": reason, "entry": eid.decode()})
        pipe.xack(self.key, GROUP, eid)
        pipe.hdel(self.attempts, eid)
        pipe.execute()
        stats["dead"] += 1
