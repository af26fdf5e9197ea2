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


# -- a keyed chain, anchored outside Redis ------------------------------------------------------
def _tamper(bus, log, index, change):
    """Edit record `index` (0-based) as someone with Redis access but without the key would."""
    from layers.loop.audit import record_hash

    rec = json.loads(raw(bus).lindex(log.log_key, index))
    change(rec)
    rec["hash"] = record_hash(rec)
    raw(bus).lset(log.log_key, index, json.dumps(rec))
    return rec


def _set_head(bus, log, rec):
    raw(bus).hset(log.head_key, mapping={"seq": rec["seq"], "hash": rec["hash"]})


def test_records_are_sealed_with_an_hmac_under_a_key_kept_outside_redis(bus):
    import hashlib
    import hmac

    from layers.loop.signing import RECORD, canonical

    log = _log(bus, 1)
    rec = log.records()[0]
    key = (bus.home / "audit_key").read_bytes().strip()
    body = {k: v for k, v in rec.items() if k != "hash"}
    assert rec["hash"] == hmac.new(key, RECORD + canonical(body).encode(),
                                   hashlib.sha256).hexdigest()
    assert (bus.home / "audit_key").stat().st_mode & 0o777 == 0o600
    assert key not in b"".join(raw(bus).lrange(log.log_key, 0, -1))


def test_the_key_may_come_from_a_setting(bus, monkeypatch):
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", "a-key-from-the-vault")
    _log(bus, 2)
    assert not (bus.home / "audit_key").exists()
    assert AuditLog(bus).verify().ok
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", "another-key")
    assert any("another audit key" in p for p in AuditLog(bus).verify().problems)


def test_editing_the_last_record_and_updating_the_head_is_detected(bus):
    log = _log(bus)
    rec = _tamper(bus, log, -1, lambda r: r.update(actor="mallory"))
    _set_head(bus, log, rec)
    result = log.verify()
    assert not result.ok and any("seq 5" in p and "MAC" in p for p in result.problems)


def test_removing_the_last_record_and_moving_the_head_back_is_detected(bus):
    log = _log(bus)
    assert log.verify().ok  # verify anchors the head outside Redis
    raw(bus).rpop(log.log_key)
    _set_head(bus, log, log.records()[-1])
    result = log.verify()
    assert not result.ok and any("4 records" in p and "anchor" in p and "removed" in p
                                 for p in result.problems)


def test_appends_anchor_the_head_every_n_records(bus, monkeypatch):
    monkeypatch.setenv("CITYOPS_AUDIT_ANCHOR_EVERY", "3")
    log = _log(bus, 3)
    lines = [json.loads(x) for x in (bus.home / "audit-anchors.log").read_text().splitlines()]
    assert [a["seq"] for a in lines] == [1, 3]  # the first keyed record, then every 3
    raw(bus).rpop(log.log_key)
    _set_head(bus, log, log.records()[-1])
    assert not log.verify().ok


def test_a_batch_in_one_transaction_is_chained_sealed_and_anchored(bus, monkeypatch):
    from layers.loop.audit import Entry

    monkeypatch.setenv("CITYOPS_AUDIT_ANCHOR_EVERY", "3")
    log = AuditLog(bus)
    for n in (2, 2, 3):
        log.transact(lambda pipe, n=n: [Entry("case", "C1", "bob", 1.0, {"i": i})
                                        for i in range(n)])
    lines = [json.loads(x) for x in (bus.home / "audit-anchors.log").read_text().splitlines()]
    assert [a["seq"] for a in lines] == [2, 4, 7]  # first under the key, then past 3 and 6
    assert log.verify().ok and len(log) == 7


def test_rewriting_a_record_and_rechaining_every_later_one_is_detected(bus):
    log = _log(bus, 120)
    prev = None
    for index in range(100, 120):  # record 101 rewritten, every later hash recomputed
        def change(r, index=index, prev=prev):
            if index == 100:
                r["actor"] = "mallory"
            if prev is not None:
                r["prev"] = prev
        prev = _tamper(bus, log, index, change)["hash"]
    _set_head(bus, log, log.records()[-1])
    result = log.verify()
    assert not result.ok and "record seq 101: content does not match its MAC" in result.problems[0]


def test_rewriting_records_without_a_mac_after_keyed_ones_is_detected(bus):
    log = _log(bus)
    rec = _tamper(bus, log, -1, lambda r: (r.pop("key_id"), r.update(actor="mallory")))
    _set_head(bus, log, rec)
    assert any("seq 5: has no MAC after keyed records" in p for p in log.verify().problems)


def test_an_edited_anchor_is_detected(bus):
    log = _log(bus)
    log.verify()
    path = bus.home / "audit-anchors.log"
    path.write_text(path.read_text().replace('"seq":5', '"seq":4'))
    assert any("line" in p and "MAC" in p for p in log.verify().problems)


def test_a_deleted_anchors_file_is_detected(bus):
    log = _log(bus)
    (bus.home / "audit-anchors.log").unlink()
    assert any("no anchor" in p for p in log.verify().problems)


def test_anchors_of_other_logs_in_the_same_file_are_ignored(bus):
    other = bus.with_prefix(bus.prefix + "other:")
    _log(other, 7)
    log = _log(bus, 2)
    assert log.verify().ok and log.verify().anchors >= 1


def test_records_written_before_the_log_was_keyed_are_accepted_and_reported(bus):
    from layers.loop.audit import GENESIS, canonical, record_hash

    log = AuditLog(bus)
    prev = GENESIS
    for seq in (1, 2):  # what an older version wrote: plain SHA-256, no key id
        rec = {"seq": seq, "ts": 1.0, "actor": "old", "kind": "case", "subject": "C9",
               "data": {"action": "note"}, "prev": prev}
        rec["hash"] = prev = record_hash(rec)
        raw(bus).rpush(log.log_key, canonical(rec))
        raw(bus).hset(log.head_key, mapping={"seq": seq, "hash": prev})
    log.append("case", "C9", "alice", 2.0, {"action": "note"})
    result = log.verify()
    assert result.ok and result.unkeyed == 2
    assert any("records 1-2 are unkeyed" in n for n in result.notices)


def test_an_untouched_log_with_concurrent_appends_verifies(bus):
    import threading

    log = _log(bus, 1)

    def write():
        for i in range(30):
            AuditLog(bus).append("case", "C1", "bob", 1.0, {"i": i})

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    results = [log.verify() for _ in range(3)]
    for t in threads:
        t.join()
    assert all(r.ok for r in results) and log.verify().checked == 91


# -- verify rebuilds every case from the log ----------------------------------------------------
def test_every_case_view_is_rebuilt_from_the_log_and_matches(store, demo_twin):
    from layers.loop.integrity import verify
    from tests.loop.conftest import alert
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    store.act(cid, "accept", "grid_a")
    store.ingest(alert(demo_twin, "crowd", grid=9, ts=store.clock()))
    result = verify(store.bus)
    assert result.ok and result.cases == 2


def test_a_case_view_set_to_closed_directly_is_detected(store, demo_twin):
    from layers.loop.integrity import verify
    from tests.loop.conftest import alert
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    forged = json.loads(raw(store.bus).hget(store.bus.keys.cases("state"), cid))
    forged["status"] = "closed"
    raw(store.bus).hset(store.bus.keys.cases("state"), cid, json.dumps(forged))
    result = verify(store.bus)
    assert not result.ok
    assert result.problems == [f"case {cid}: the stored view differs from its audit records: "
                               f"status is 'closed', the log gives 'dispatched'"]


def test_a_case_view_without_records_is_detected(store, demo_twin):
    from layers.loop.integrity import verify
    from tests.loop.conftest import alert
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    raw(store.bus).hset(store.bus.keys.cases("state"), "C999999",
                        raw(store.bus).hget(store.bus.keys.cases("state"), cid))
    assert any("C999999: a stored view without any audit record" in p
               for p in verify(store.bus).problems)


def test_a_deleted_case_view_is_detected(store, demo_twin):
    from layers.loop.integrity import verify
    from tests.loop.conftest import alert
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    raw(store.bus).hdel(store.bus.keys.cases("state"), cid)
    assert any(f"{cid}: has audit records but no stored view" in p
               for p in verify(store.bus).problems)


def test_a_draw_with_an_operator_chosen_seed_is_reported(bus, demo_twin):
    from layers.loop import inspections
    from layers.loop.integrity import verify

    inspections.draw(bus, demo_twin, "health", 2, 1)
    chosen = inspections.draw(bus, demo_twin, "health", 2, 1, seed=5, actor="chief")
    result = verify(bus)
    assert result.ok and len(result.notices) == 1
    assert f"draw {chosen['draw']} (health): seed 5 was chosen by the operator (chief" in \
        result.notices[0]


def test_a_bad_anchor_period_is_refused_before_anything_is_written(bus, monkeypatch):
    monkeypatch.setenv("CITYOPS_AUDIT_ANCHOR_EVERY", "often")
    with pytest.raises(ValueError, match="CITYOPS_AUDIT_ANCHOR_EVERY is 'often'"):
        AuditLog(bus).append("case", "C1", "alice", 1.0, {})
    assert len(AuditLog(bus)) == 0
