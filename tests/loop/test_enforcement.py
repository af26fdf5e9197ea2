"""Enforcement cases: opened by a draw or a complaint only, moved through the procedure with its
legal deadlines, decisions yielding payment requests, audited and folded like every case."""

from __future__ import annotations

import pytest

from layers.loop import inspections
from layers.loop import procedure as proc
from layers.loop.audit import AuditLog
from layers.loop.enforcement import BasisRefused, EnforcementStore
from layers.loop.payments import PaymentStore
from tests.loop.conftest import alert

DAY = 86400.0


@pytest.fixture
def enf(bus, clock):
    return EnforcementStore(bus, clock=clock)


@pytest.fixture
def drawn(bus, demo_twin):
    return inspections.draw(bus, demo_twin, "market", 2, 2, actor="chief")


def _open(enf, drawn, party="organisation"):
    return enf.open("market", drawn["targets"][0], "draw", drawn["draw"], actor="chief",
                    party=party)


def test_a_drawn_target_opens_an_enforcement_case_with_the_drawn_inspectors(enf, drawn, clock):
    case = _open(enf, drawn)
    assert (case.stage, case.basis, case.inspectors) == ("inspection", "draw", drawn["inspectors"])
    assert case.deadline == enf.procedure.deadline("inspection", clock(), None, None)


def test_a_target_the_draw_did_not_pick_is_refused_with_the_rule_and_the_refusal_audited(
        enf, drawn):
    with pytest.raises(BasisRefused, match="随机之外，不投诉不检查"):
        enf.open("market", "not-drawn", "draw", drawn["draw"], actor="chief")
    assert enf.refusals()[0]["target"] == "not-drawn"
    assert enf.list() == []


def test_a_case_from_a_grid_inspector_is_not_a_complaint(enf, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "illegal_business", source="grid_inspector"))
    with pytest.raises(BasisRefused, match="not a complaint"):
        enf.open("market", "shop-1", "complaint", cid, actor="chief")


def test_a_hotline_complaint_opens_a_case_at_the_complaints_place(enf, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "illegal_business", source="hotline"))
    case = enf.open("market", "shop-1", "complaint", cid, actor="chief", party="person")
    assert case.place == store.get(cid).place


def test_one_basis_opens_one_case(enf, drawn):
    _open(enf, drawn)
    with pytest.raises(proc.EnforcementError, match="already opened"):
        _open(enf, drawn)


def test_the_decision_deadline_counts_ninety_days_from_filing(enf, drawn, clock):
    cid = _open(enf, drawn).id
    enf.act(cid, "find", "w")
    clock.advance(DAY)
    filed = enf.act(cid, "file", "w").filed_at
    clock.advance(10 * DAY)
    enf.act(cid, "notify", "w", amount_yuan=5000)
    clock.advance(DAY)
    case = enf.act(cid, "conclude", "w")
    assert case.deadline == enf.procedure.deadline("decision", clock(), filed, None)
    assert case.deadline == enf.procedure.deadline("decision", filed, None, None)


def test_a_decision_yields_a_payment_request_due_once_the_decision_is_served(enf, drawn, bus):
    cid = _open(enf, drawn).id
    for action in ("find", "file", "notify", "conclude"):
        enf.act(cid, action, "w")
    case = enf.act(cid, "decide", "w", amount_yuan=1234.5)
    request = PaymentStore(bus).get(case.payment)
    assert (request.amount_fen, request.due, request.status) == (123450, None, "open")
    served = enf.act(cid, "serve", "w")
    assert PaymentStore(bus).get(case.payment).due == served.deadline


def test_the_payment_request_carries_the_simulators_url_by_default(enf, drawn, bus, monkeypatch):
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", "https://twin.example")
    case = enf.act(_open(enf, drawn, party="person").id, "decide", "w", amount_yuan=50)
    request = PaymentStore(bus).get(case.payment)
    assert request.url == f"https://twin.example/pay/sim/{request.id}"
    assert request.gateway == "simulator"


def test_a_configured_gateway_gets_the_payment_and_amount_in_its_url(enf, drawn, bus,
                                                                      monkeypatch):
    monkeypatch.setenv("CITYOPS_PAYMENT_GATEWAY", "https://pay.example/q?id={payment}&y={amount_yuan}")
    case = enf.act(_open(enf, drawn, party="person").id, "decide", "w", amount_yuan=50)
    request = PaymentStore(bus).get(case.payment)
    assert request.url == f"https://pay.example/q?id={request.id}&y=50.00"


def test_an_on_the_spot_fine_over_the_legal_limit_is_refused(enf, drawn):
    cid = _open(enf, drawn, party="person").id
    with pytest.raises(proc.EnforcementError, match="at most 200 yuan"):
        enf.act(cid, "decide", "w", amount_yuan=201)
    assert enf.get(cid).stage == "inspection"


def test_an_on_the_spot_decision_goes_straight_to_payment(enf, drawn):
    case = enf.act(_open(enf, drawn, party="person").id, "decide", "w", amount_yuan=200)
    assert (case.stage, case.on_site) == ("payment", True)


def test_a_payment_cannot_be_recorded_by_hand(enf, drawn):
    cid = enf.act(_open(enf, drawn, party="person").id, "decide", "w", amount_yuan=20).id
    with pytest.raises(proc.EnforcementError, match="signed callback"):
        enf.act(cid, "pay", "w")


@pytest.mark.parametrize("amount", [0, -5, 1.234, float("nan"), "x"])
def test_a_fine_must_be_a_positive_amount_in_yuan_and_fen(enf, drawn, amount):
    cid = _open(enf, drawn, party="person").id
    with pytest.raises(proc.EnforcementError, match="positive number of yuan"):
        enf.act(cid, "decide", "w", amount_yuan=amount)


def test_a_supervisor_flag_is_recorded_without_moving_the_case(enf, drawn):
    cid = _open(enf, drawn).id
    case = enf.flag(cid, "supervisor1", "inspection started late")
    assert case.stage == "inspection"
    assert case.flags[0]["by"] == "supervisor1"
    assert [c.id for c in enf.list(flagged=True)] == [cid]


def test_the_stored_case_equals_its_audit_records_folded_afresh(enf, drawn, bus):
    cid = _open(enf, drawn).id
    for action in ("find", "file", "notify", "request_hearing", "conclude"):
        enf.act(cid, action, "w")
    enf.act(cid, "decide", "w", amount_yuan=8000)
    enf.flag(cid, "sup", "check the hearing record")
    assert enf.rebuild(cid) == enf.get(cid)
    assert AuditLog(bus).verify().ok


def test_overdue_lists_open_cases_past_their_stage_deadline(enf, drawn, clock):
    cid = _open(enf, drawn).id
    assert enf.list(overdue=True) == []
    clock.advance(32 * DAY)
    assert [c.id for c in enf.list(overdue=True)] == [cid]


def test_audit_verify_folds_every_enforcement_case_and_finds_a_view_edited_directly(enf, drawn,
                                                                                    bus):
    import json

    from layers.loop.integrity import verify
    from layers.testing import raw

    cid = _open(enf, drawn).id
    enf.act(cid, "find", "w")
    assert verify(bus).ok and verify(bus).enforcement_cases == 1
    forged = json.loads(raw(bus).hget(bus.keys.enforce("state"), cid))
    forged["stage"] = "closed"
    raw(bus).hset(bus.keys.enforce("state"), cid, json.dumps(forged))
    assert verify(bus).problems == [f"enforcement case {cid}: the stored view differs from its "
                                    f"audit records: stage is 'closed', the log gives 'filing'"]


@pytest.mark.parametrize("ref", ["0", "-1", "x", "999"])
def test_a_drawn_target_with_a_reference_that_is_no_draw_is_refused(enf, drawn, ref):
    with pytest.raises(BasisRefused, match="is not a double-random draw"):
        enf.open("market", drawn["targets"][0], "draw", ref, actor="chief")
