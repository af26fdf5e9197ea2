"""The append-only, keyed, hash-chained audit log of the closed loop (case transitions, draws, ...).

Each record is one JSON line in the Redis list `{prefix}audit:log`:

    {"seq": 7, "ts": 1767225600.0, "actor": "grid_a", "kind": "case", "subject": "C000001",
     "data": {...}, "prev": "<hash of record 6>", "key_id": "<id of the audit key>",
     "hash": "<HMAC-SHA256 of everything else under the audit key>"}

The key (`twin.settings.audit_key`) lives outside Redis, so whoever can write Redis cannot edit a
record, nor rewrite one and re-chain every later hash, without it showing (`layers.loop.signing`).
The head (last seq, hash, key id) is kept apart in `{prefix}audit:head`; every
`audit_anchor_every` records, on the first record under a key, and after each successful `verify`
the head is also anchored outside Redis (`layers.loop.anchors`), so removing records from the
end and moving the head back shows too. Records written before the log was keyed have no
`key_id` and a plain SHA-256 `hash`: `verify` accepts them only before the first keyed record and
says they are unkeyed.

Appends are serialised with WATCH on the head; callers may queue more commands into the same
MULTI (e.g. the case view and its indexes), so a record and what is derived from it are written
together or not at all. `append` writes one record, `transact` a batch of them in one
transaction.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import redis

from layers.live.bus import Bus
from layers.loop.anchors import Anchor, AnchorFile
from layers.loop.signing import RECORD, canonical, digest, key_id, sign, signed
from twin import settings

__all__ = ["GENESIS", "AuditLog", "Entry", "Verification", "canonical", "record_hash"]

GENESIS = "0" * 64      # the `prev` of record 1
MAX_PROBLEMS = 20       # problems listed by `verify` (all are counted)
log = logging.getLogger(__name__)


def _body(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "hash"}


def record_hash(record: dict) -> str:
    """Plain SHA-256 of a record without its `hash` (how unkeyed records were hashed; anyone,
    an attacker included, can compute it)."""
    return digest(_body(record))


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
    """What a verification found: records checked, problems (tampering), notices (facts worth
    knowing that are not tampering: unkeyed records, operator-chosen seeds)."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    problem_count: int = 0
    unkeyed: int = 0
    anchors: int = 0
    cases: int = 0
    enforcement_cases: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def to_dict(self) -> dict:
        out = {"ok": self.ok, "checked": self.checked, "unkeyed": self.unkeyed,
               "anchors": self.anchors, "cases": self.cases,
               "enforcement_cases": self.enforcement_cases, "problems": self.problems,
               "notices": self.notices}
        if self.problem_count > len(self.problems):
            out["more_problems"] = self.problem_count - len(self.problems)
        return out


class AuditLog:
    """Append and read attributed, timestamped, keyed and hash-chained records."""

    def __init__(self, bus: Bus, key: bytes | None = None) -> None:
        """`key`: the audit key (default `twin.settings.audit_key` under the bus's home)."""
        self.redis, self.keys, self.home = bus.redis, bus.keys, bus.home
        self.log_key = bus.keys.audit("log")
        self.head_key = bus.keys.audit("head")
        if key is not None:
            self.key = key

    @cached_property
    def key(self) -> bytes:
        return settings.audit_key(self.home)

    @cached_property
    def key_id(self) -> str:
        return key_id(self.key)

    @cached_property
    def anchors(self) -> AnchorFile:
        return AnchorFile(settings.audit_anchors(self.home), self.key, self.keys.prefix)

    @cached_property
    def anchor_every(self) -> int:
        return settings.audit_anchor_every()

    def subject_key(self, subject: str) -> str:
        return self.keys.audit(f"subject:{subject}")

    # -- writing ---------------------------------------------------------------------------------
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
        `extra` atomically. Each record is sealed with an HMAC under the audit key; the last one
        is anchored when the batch reaches a multiple of `anchor_every` or is the first under
        this key, so fewer than `anchor_every` records ever follow the last anchor.
        """
        key, kid, every = self.key, self.key_id, self.anchor_every  # settings read up front
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.head_key, *watch)
                    head = pipe.hgetall(self.head_key)
                    first = seq = int(head.get(b"seq", 0))
                    prev = head.get(b"hash", GENESIS.encode()).decode()
                    new_key = head.get(b"key_id", b"").decode() != kid
                    records = []
                    for entry in build(pipe):
                        if not entry.actor or not isinstance(entry.actor, str):
                            raise ValueError("every audit record needs an actor (a person or a "
                                             "system name)")
                        seq += 1
                        record = {"seq": seq, "ts": float(entry.ts), "actor": entry.actor,
                                  "kind": entry.kind, "subject": entry.subject,
                                  "data": entry.data, "prev": prev, "key_id": kid}
                        record["hash"] = prev = sign(key, RECORD, record)
                        records.append(record)
                    pipe.multi()
                    for record in records:
                        pipe.rpush(self.log_key, canonical(record))
                        pipe.rpush(self.subject_key(record["subject"]), record["seq"])
                    if records:
                        pipe.hset(self.head_key, mapping={"seq": seq, "hash": prev,
                                                          "key_id": kid})
                    if extra is not None:
                        extra(pipe, records)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        if records and (new_key or seq // every > first // every):
            self._anchor(seq, prev)
        return records

    def _anchor(self, seq: int, record_hash: str) -> None:
        """Write an anchor; a failure is logged, never undoes the record already written."""
        try:
            self.anchors.write(seq, record_hash, time.time())
        except OSError as exc:
            log.warning("audit: cannot write the anchor of record %d to %s: %s (fix the file's "
                        "folder or $CITYOPS_AUDIT_ANCHORS)", seq, self.anchors.path, exc)

    # -- reading ---------------------------------------------------------------------------------
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

    # -- verifying -------------------------------------------------------------------------------
    def verify(self, on_record: Callable[[dict, Verification], None] | None = None,
               batch: int = 10_000) -> Verification:
        """Re-check the whole chain against the key and the anchors; say which record differs.

        `on_record(record, result)` sees every readable record in order (to check what is derived
        from the log, e.g. the case views). When the chain is intact, the head is anchored.
        """
        result = Verification()
        anchors, bad_lines = self.anchors.read()  # before the snapshot: anchors never run ahead
        for text in bad_lines:
            result.problem(text)
        by_seq: dict[int, list[Anchor]] = defaultdict(list)
        for anchor in anchors:
            by_seq[anchor.seq].append(anchor)
        with self.redis.pipeline(transaction=True) as pipe:
            head, total = pipe.hgetall(self.head_key).llen(self.log_key).execute()
        chain = _Chain(self, result, by_seq)
        for start in range(0, total, batch):
            for raw in self.redis.lrange(self.log_key, start, min(start + batch, total) - 1):
                record = chain.check(raw)
                if record is not None and on_record is not None:
                    on_record(record, result)
        chain.finish(head, anchors)
        result.anchors = len(anchors)
        if chain.ok and result.checked and not any(
                a.seq == result.checked and a.hash == chain.prev for a in anchors):
            self._anchor(result.checked, chain.prev)
        return result


class _Chain:
    """The state of one pass over the log: the previous hash, the expected seq, keyed or not."""

    def __init__(self, log: AuditLog, result: Verification, anchors: dict[int, list[Anchor]]):
        self.log, self.result, self.anchors = log, result, anchors
        self.prev: str | None = GENESIS
        self.expected = 1
        self.keyed = False
        self.problems_before = result.problem_count

    @property
    def ok(self) -> bool:
        return self.result.problem_count == self.problems_before

    def check(self, raw: bytes) -> dict | None:
        """Check one record; the record when it is readable."""
        result = self.result
        result.checked += 1
        n = result.checked
        try:
            rec = json.loads(raw)
            seq = int(rec["seq"])
        except (ValueError, KeyError, TypeError):
            result.problem(f"record #{n}: not a readable audit record")
            self.prev, self.expected = None, self.expected + 1
            return None
        if seq != self.expected:
            result.problem(f"record #{n}: sequence {seq}, expected {self.expected} "
                           f"(a record was deleted or inserted)")
        if self.prev is not None and rec.get("prev") != self.prev:
            result.problem(f"record seq {seq}: does not chain to the previous record "
                           f"(a record before it was edited, deleted or inserted)")
        self._check_seal(rec, seq)
        for anchor in self.anchors.get(n, []):
            if anchor.hash != rec.get("hash"):
                result.problem(f"record seq {seq} differs from the anchor of {anchor.when} "
                               f"(anchors file line {anchor.line}): the log was rewritten")
        self.prev, self.expected = rec.get("hash"), seq + 1
        return rec

    def _check_seal(self, rec: dict, seq: int) -> None:
        """The record's own hash: a MAC under the key, or (before any keyed record) SHA-256."""
        result, kid = self.result, rec.get("key_id")
        if kid is None:
            if self.keyed:
                result.problem(f"record seq {seq}: has no MAC after keyed records (it was "
                               f"rewritten by someone without the audit key)")
            else:
                result.unkeyed += 1
            if record_hash(rec) != rec.get("hash"):
                result.problem(f"record seq {seq}: content does not match its hash "
                               f"(the record was edited)")
            return
        self.keyed = True
        if kid != self.log.key_id:
            result.problem(f"record seq {seq}: signed with another audit key (key id {kid}, "
                           f"this machine's is {self.log.key_id}): set $CITYOPS_AUDIT_KEY to "
                           f"the key the log was written with, or the record was forged")
        elif not signed(self.log.key, RECORD, _body(rec), rec.get("hash")):
            result.problem(f"record seq {seq}: content does not match its MAC "
                           f"(the record was edited)")

    def finish(self, head: dict, anchors: list[Anchor]) -> None:
        """The head and the anchors against the end of the log; the unkeyed notice."""
        result, n = self.result, self.result.checked
        if head or n:
            head_seq, head_hash = int(head.get(b"seq", 0)), head.get(b"hash", b"").decode()
            if head_seq != n or head_hash != (self.prev or ""):
                result.problem(f"the log ends at record {n} but the head says {head_seq} "
                               f"(records were removed from the end, or the head was changed)")
        longest = max(anchors, key=lambda a: a.seq, default=None)
        if longest is not None and longest.seq > n:
            result.problem(f"the log has {n} records but the anchor of {longest.when} "
                           f"(anchors file line {longest.line}) says it had {longest.seq}: "
                           f"records were removed from the end")
        if self.keyed and not anchors:
            result.problem(f"no anchor of this log in {self.log.anchors.path}: the anchors file "
                           f"was deleted or emptied (or the log is written on another machine: "
                           f"give every process the same $CITYOPS_AUDIT_ANCHORS)")
        if result.unkeyed:
            result.notices.insert(0, f"records 1-{result.unkeyed} are unkeyed (written before "
                                     f"the audit log was keyed): their plain SHA-256 shows an "
                                     f"edit but not a rewrite of the chain; the anchors pin "
                                     f"them from now on")
