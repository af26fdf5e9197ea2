"""Admission at a door: a batch of events is judged at once by THE decoder, the valid ones are
written through the Producer, the others dead-lettered with the reason.

The HTTP event API uses it, so a sender learns in the answer how many events were taken and why
the others were not (`Admission`), and the ingest worker later decodes exactly what was
accepted. A request's events are written as Arrow batch entries (the same columns; JSON values
as the text a flat entry would hold): one XADD per request, not one per event. Dead letters of one request carry the door, the source (the API key's name) and a
request id, an excerpt of each field and the size and SHA-256 of the event; at most
`MAX_DEAD_LETTERS` are kept per request (one more record says how many were left out).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from layers.live import schema as S
from layers.live.bodies import Body
from layers.live.bus import Bus
from layers.live.decode import DeadRow, Decoder, payload_record
from layers.live.producer import Producer

MAX_REASONS = 20
MAX_DEAD_LETTERS = 1000


@dataclass
class Admission:
    """What became of one batch: events accepted (in Redis), dead, the first reasons."""

    request: str
    accepted: int
    dead: int
    reasons: list[dict] = field(default_factory=list)

    def body(self) -> dict:
        return {"accepted": self.accepted, "dead": self.dead, "reasons": self.reasons,
                "request": self.request}


class Door:
    """Admits batches of events of any kind into one bus (`name` labels its dead letters)."""

    def __init__(self, bus: Bus, twin, name: str = "http", limits: S.Limits | None = None,
                 producer: Producer | None = None) -> None:
        self.bus, self.twin, self.name = bus, twin, name
        self.limits = limits or S.Limits.from_settings()
        self.producer = producer or Producer(bus, twin)
        self._local = threading.local()  # a decoder per thread: its point memo is not shared

    def decoder(self) -> Decoder:
        dec = getattr(self._local, "decoder", None)
        if dec is None:
            dec = self._local.decoder = Decoder(self.twin, self.limits)
        return dec

    def table(self, body: Body) -> pa.Table:
        """The events of a body as a table, sizes checked from the metadata first (a
        `decode.SizeError` over a limit, ValueError/ArrowException when unreadable)."""
        return self.decoder().arrow_table(body.arrow)

    def admit(self, kind: str, body: Body, source: str, now: float,
              table: pa.Table | None = None) -> Admission:
        """Judge the events of `body` (a table of it may be given), write the valid ones and
        dead-letter the rest; returns once both are in Redis."""
        request = secrets.token_hex(8)
        table = self.table(body) if table is None else table
        decoded = self.decoder().decode(kind, [(request, [b"arrow", body.arrow])], now)
        ok = np.ones(table.num_rows, dtype=bool)
        dead = []  # (position in the body, DeadRow)
        for row in decoded.dead:
            if row.row is None:  # the whole batch: checked by `table` already, so not expected
                raise ValueError(row.reason)
            ok[row.row] = False
            dead.append((body.position(row.row), row))
        dead += [(pos, DeadRow(request, reason, {"event": text}, row=pos))
                 for pos, reason, text in body.bad]
        dead.sort(key=lambda d: d[0])
        accepted = int(ok.sum())
        if accepted:
            self._write(kind, table if ok.all() else table.filter(pa.array(ok)))
        self._dead_letters(kind, request, source, dead)
        reasons = [{"row": pos, "reason": row.reason} for pos, row in dead[:MAX_REASONS]]
        return Admission(request, accepted, len(dead), reasons)

    def _write(self, kind: str, table: pa.Table) -> None:
        """The accepted events as Arrow batch entries, each well under the entry limit."""
        per_entry = max(1, int(table.num_rows * (self.limits.entry_bytes // 2)
                               / max(1, table.nbytes)))
        self.producer.publish(kind, table, batch=max(2, per_entry))

    def _dead_letters(self, kind: str, request: str, source: str,
                      dead: list[tuple[int, DeadRow]]) -> None:
        if not dead:
            return
        stream, excerpt = f"{self.name}:{kind}", self.limits.dead_excerpt
        records = []
        for pos, row in dead[:MAX_DEAD_LETTERS]:
            text = json.dumps(row.fields, ensure_ascii=False).encode("utf-8", "replace")
            record = row.record(stream, excerpt)
            record.update(source=source[:128], request=request, row=str(pos),
                          bytes=str(len(text)), sha256=hashlib.sha256(text).hexdigest())
            records.append(record)
        if len(dead) > MAX_DEAD_LETTERS:
            records.append({"reason": f"{len(dead) - MAX_DEAD_LETTERS} more dead events of this "
                                      f"request are not kept", "stream": stream,
                            "source": source[:128], "request": request})
        self._queue(records)

    def refuse(self, kind: str, payload: bytes, reason: str, source: str) -> None:
        """Dead-letter a body that could not be read at all (its excerpt, size and hash)."""
        self._queue([payload_record(payload, reason, f"{self.name}:{kind}",
                                    self.limits.dead_excerpt, source=source)])

    def _queue(self, records: list[dict]) -> None:
        pipe = self.bus.pipeline(transaction=False)
        self.bus.queue_dead(pipe, records, self.bus.partitions()[0])
        pipe.execute()
