"""The hash-chained audit log: append-only, attributed, and any tampering is detected."""

from __future__ import annotations

import json

import pytest

from layers.loop.audit import AuditLog
from layers.testing import raw


def _log(bus, n=5):
    log = AuditLog(bus)
    for i in range(n):
        log.append("case", f"C{i % 2}", "alice", 1000.0 + i, {"action": "note", "i": i})
    return log


def test_an_untouched_log_verifies(bus):
    result = _log(bus).verify()
    assert result.ok and result.checked == 5 and result.problems == []


def test_records_chain_to_their_predecessor(bus):
    records = _log(bus).records()
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert all(b["prev"] == a["hash"] for a, b in zip(records, records[1:], strict=False))


def test_records_of_one_subject_are_found_in_order(bus):
    assert [r["data"]["i"] for r in _log(bus).for_subject("C1")] == [1, 3]


def test_an_edited_record_is_detected(bus):
    log = _log(bus)
    rec = json.loads(raw(bus).lindex(log.log_key, 2))
    rec["actor"] = "mallory"
    raw(bus).lset(log.log_key, 2, json.dumps(rec))
    result = log.verify()
    assert not result.ok and any("seq 3" in p and "edited" in p for p in result.problems)


def test_an_edited_record_with_a_recomputed_hash_breaks_the_chain(bus):
    from layers.loop.audit import record_hash

    log = _log(bus)
    rec = json.loads(raw(bus).lindex(log.log_key, 1))
    rec["data"]["i"] = 99
    rec["hash"] = record_hash(rec)
    raw(bus).lset(log.log_key, 1, json.dumps(rec))
    assert any("does not chain" in p for p in log.verify().problems)


def test_a_deleted_record_is_detected(bus):
    log = _log(bus)
    raw(bus).lrem(log.log_key, 1, raw(bus).lindex(log.log_key, 1))
    assert any("deleted" in p for p in log.verify().problems)


def test_a_truncated_tail_is_detected(bus):
    log = _log(bus)
    raw(bus).rpop(log.log_key)
    assert any("end" in p for p in log.verify().problems)


def test_a_record_needs_an_actor(bus):
    with pytest.raises(ValueError, match="actor"):
        AuditLog(bus).append("case", "C1", "", 1.0, {})
