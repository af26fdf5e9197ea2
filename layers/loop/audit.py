"""The append-only, hash-chained audit log of the closed loop (case transitions, draws, ...).

Each record is one JSON line in the Redis list `{prefix}audit:log` with a sequence number, time,
actor, kind, subject, data, the hash of the previous record and its own hash
(SHA-256 of the canonical JSON of everything else). The head (last seq and hash) is kept apart in
`{prefix}audit:head`, so `verify` detects an edited record (hash mismatch), a deleted or inserted
record (broken chain or sequence) and a truncated tail (head mismatch). Appends are serialised with
WATCH on the head; callers may queue more commands into the same MULTI (e.g. the case view and
its indexes), so a record and what is derived from it are written together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from layers.live.bus import Bus

GENESIS = "0" * 64


def canonical(obj) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: dict) -> str:
    """SHA-256 of a record without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A record to append: what happened (kind, data), to what (subject), by whom, when."""

    kind: str
    subject: str
    actor: str
    ts: float
    data: dict


@dataclass
class Verification:
    """Result of `AuditLog.verify`: ok, records checked, and the problems found (first 20)."""

    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems}


class AuditLog:
    """Append and read attributed, timestamped, hash-chained records."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys
        self.log_key = bus.keys.audit("log")
        self.head_key = bus.keys.audit("head")

    def subject_key(self, subject: str) -> str:
        return self.keys.audit(f"subject:{subject}")

    def append(self, kind: str, subject: str, actor: str, ts: float,
               data: dict | Callable[[redis.client.Pipeline], dict],
               extra: Callable[[redis.client.Pipeline, dict], None] | None = None) -> dict:
        """Append one record (and run `extra(pipe, record)` in the same transaction).

        `data` may be a function of the watched pipeline: it then reads the current state and
        builds the record inside the optimistic lock (and may raise to abort the append).
        """
        def build(pipe) -> list[Entry]:
            return [Entry(kind, subject, actor, ts, data(pipe) if callable(data) else data)]

        def extras(pipe, records: list[dict]) -> None:
            if extra is not None:
                extra(pipe, records[0])

        return self.transact(build, extras)[0]

    def transact(self, build: Callable[[redis.client.Pipeline], list[Entry]],
                 extra: Callable[[redis.client.Pipeline, list[dict]], None] | None = None,
                 watch: tuple[str, ...] = ()) -> list[dict]:
        """Append the records `build(pipe)` returns, in order, and run `extra(pipe, records)`, all
        in ONE transaction; retried from `build` when the log (or a `watch` key) changed meanwhile.

        `build` runs inside the optimistic lock on a watched pipeline, so it can read the
        current state; it may raise to abort. An empty list appends nothing but still runs
        `extra` atomically.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.head_key, *watch)
                    head = pipe.hgetall(self.head_key)
                    seq = int(head.get(b"seq", 0))
                    prev = head.get(b"hash", GENESIS.encode()).decode()
                    records = []
                    for entry in build(pipe):
                        if not entry.actor or not isinstance(entry.actor, str):
                            raise ValueError("every audit record needs an actor (a person or a "
                                             "system name)")
                        seq += 1
                        record = {"seq": seq, "ts": float(entry.ts), "actor": entry.actor,
                                  "kind": entry.kind, "subject": entry.subject,
                                  "data": entry.data, "prev": prev}
                        record["hash"] = prev = record_hash(record)
                        records.append(record)
                    pipe.multi()
                    for record in records:
                        pipe.rpush(self.log_key, canonical(record))
                        pipe.rpush(self.subject_key(record["subject"]), record["seq"])
                    if records:
                        pipe.hset(self.head_key, mapping={"seq": seq, "hash": prev})
                    if extra is not None:
                        extra(pipe, records)
                    pipe.execute()
                    return records
                except redis.WatchError:
                    continue

    def __len__(self) -> int:
        return int(self.redis.llen(self.log_key))

    def records(self, start: int = 1, end: int = -1) -> list[dict]:
        """Records by sequence number range (1-based, inclusive; -1 = to the end)."""
        raw = self.redis.lrange(self.log_key, start - 1, end if end < 0 else end - 1)
        return [json.loads(r) for r in raw]

    def for_subject(self, subject: str) -> list[dict]:
        """Every record about one subject (e.g. a case id), in order."""
        seqs = [int(s) for s in self.redis.lrange(self.subject_key(subject), 0, -1)]
        if not seqs:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for s in seqs:
            pipe.lindex(self.log_key, s - 1)
        return [json.loads(r) for r in pipe.execute() if r is not None]

    def verify(self, batch: int = 10_000) -> Verification:
        """Re-check the whole chain; any edit, deletion, insertion or truncation is reported."""
        problems: list[str] = []
        prev, expected_seq, n = GENESIS, 1, 0
        total = len(self)
        for start in range(0, total, batch):
            for raw in self.redis.lrange(self.log_key, start, start + batch - 1):
                n += 1
                try:
                    rec = json.loads(raw)
                    seq = rec["seq"]
                except (ValueError, KeyError, TypeError):
                    problems.append(f"record #{n}: not a readable audit record")
                    prev, expected_seq = None, expected_seq + 1
                    continue
                if seq != expected_seq:
                    problems.append(f"record #{n}: sequence {seq}, expected {expected_seq} "
                                    f"(a record was deleted or inserted)")
                if prev is not None and rec.get("prev") != prev:
                    problems.append(f"record seq {seq}: does not chain to the previous record "
                                    f"(a record before it was edited, deleted or inserted)")
                if record_hash(rec) != rec.get("hash"):
                    problems.append(f"record seq {seq}: content does not match its hash "
                                    f"(the record was edited)")
                prev, expected_seq = rec.get("hash"), seq + 1
        head = self.redis.hgetall(self.head_key)
        if head or n:
            head_seq, head_hash = int(head.get(b"seq", 0)), head.get(b"hash", b"").decode()
            if head_seq != n or head_hash != (prev or ""):
                problems.append(f"the log ends at record {n} but the head says {head_seq} "
                                f"(records were removed from the end, or the head was changed)")
        return Verification(ok=not problems, checked=n, problems=problems[:20])
