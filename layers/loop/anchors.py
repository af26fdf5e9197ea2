"""Anchors: signed checkpoints of the audit log's head, kept outside Redis in an append-only file.

A keyed chain shows any edited record, but not the removal of the newest records together with
the head that points at them. Anchors close that gap: every `audit_anchor_every` records (and on
each successful `verify`) the appender writes the sequence number and hash of the record it just
wrote to a file outside Redis (`twin.settings.audit_anchors`, default
`$CITYOPS_HOME/audit-anchors.log`, 0600). `verify` then reports a log shorter than an anchor
(records removed from the end) or one whose record differs from an anchor (the log rewritten).
Records appended after the last anchor are not covered: the period bounds that window.

Format: one JSON object per line, written with one `write` on a file opened `O_APPEND` and
fsynced, so concurrent appenders never interleave:

    {"prefix": "cityops:", "seq": 1200, "hash": "<record hash>", "time": 1767225600.0,
     "mac": "<HMAC-SHA256 of the other fields under the audit key, domain signing.ANCHOR>"}

`prefix` is the bus's key prefix, so several logs (twins, test runs) may share one file; only
this log's lines are read. A line of this log that does not parse or whose MAC is wrong is
reported: the file was edited.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from layers.loop.signing import ANCHOR, canonical, sign, signed


@dataclass(frozen=True)
class Anchor:
    """One signed checkpoint: the log had `seq` records and the last one's hash was `hash`."""

    seq: int
    hash: str
    time: float
    line: int = 0  # line number in the file (for messages)

    @property
    def when(self) -> str:
        """The anchor's time, ISO 8601 UTC (for messages)."""
        return dt.datetime.fromtimestamp(self.time, dt.UTC).isoformat(timespec="seconds")


class AnchorFile:
    """The anchors of one audit log (one key prefix) in an append-only file."""

    def __init__(self, path: Path, key: bytes, prefix: str) -> None:
        self.path, self.key, self.prefix = Path(path), key, prefix

    def write(self, seq: int, record_hash: str, time: float) -> Anchor:
        """Append one signed anchor (the file is made 0600 when new)."""
        body = {"prefix": self.prefix, "seq": int(seq), "hash": record_hash, "time": float(time)}
        line = canonical({**body, "mac": sign(self.key, ANCHOR, body)}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return Anchor(int(seq), record_hash, float(time))

    def read(self) -> tuple[list[Anchor], list[str]]:
        """This log's anchors with a valid MAC, and one problem per line that is not one."""
        if not self.path.exists():
            return [], []
        anchors, problems = [], []
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, 1):
                if not text.strip():
                    continue
                try:
                    item = json.loads(text)
                    if not isinstance(item, dict):
                        raise TypeError("not an object")
                    if item.get("prefix") != self.prefix:
                        continue
                    body = {k: item[k] for k in ("prefix", "seq", "hash", "time")}
                    anchor = Anchor(int(item["seq"]), str(item["hash"]), float(item["time"]),
                                    number)
                except (ValueError, KeyError, TypeError):
                    problems.append(f"anchors file {self.path} line {number}: not an anchor "
                                    f"(the file was edited or damaged)")
                    continue
                if not signed(self.key, ANCHOR, body, item.get("mac")):
                    problems.append(f"anchors file {self.path} line {number}: its MAC does not "
                                    f"match (the anchor was edited, or written with another key)")
                    continue
                anchors.append(anchor)
        return anchors, problems
