"""Enforcement over HTTP: the signed, replay-safe payment callback (through a real server), the
simulator gateway, the QR code, and the supervision routes under the pages' role rules."""

from __future__ import annotations

import json

import pytest

from layers.loop import inspections
from layers.loop import payments as pay
from layers.loop.enforcement import EnforcementStore
from tests.dashboard.browser import serve
from tests.dashboard.conftest import DEMO_PASSWORDS


@pytest.fixture
def app(demo_twin, bus, tmp_path):
    from dashboard.app import create_app

    return create_app(demo_twin, bus=bus, keys_file=tmp_path / "api_keys.yaml")


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def server_url(app):
    """The app served over HTTP on a free port (threaded: the simulator calls it back)."""
    url, server = serve(app)
    yield url
    server.shutdown()


@pytest.fixture
def enf(bus, demo_twin):
    return EnforcementStore(bus)


def _decided(enf, bus, demo_twin, yuan=100):
    drawn = inspections.draw(bus, demo_twin, "market", 1, 1, actor="chief")
    case = enf.open("market", drawn["targets"][0], "draw", drawn["draw"], "chief", party="person")
    return enf.act(case.id, "decide", "officer", amount_yuan=yuan)


def _body(case, txn="T1", fen=None) -> bytes:
    return json.dumps({"payment": case.payment, "amount_fen": fen or case.amount_fen,
                       "txn": txn, "paid_at": 1.0}).encode()


def _login(client, name: str) -> None:
    assert client.post("/login", data={"username": name,
                                       "password": DEMO_PASSWORDS[name]}).status_code == 303


def test_the_simulators_signed_callback_over_http_pays_and_moves_the_case_to_closure(
        enf, bus, demo_twin, server_url):
    case = _decided(enf, bus, demo_twin)
    sim = pay.Simulator(bus, callback_url=f"{server_url}/api/v1/payments/callback")
    txn, status = sim.pay(case.payment)
    after = enf.get(case.id)
    assert status == 200
    assert (after.stage, after.paid_fen, after.on_site) == ("closure", 10000, True)
    assert sim.store.simulated()[txn]["payment"] == case.payment


def test_the_simulators_page_pays_through_the_callback(enf, bus, demo_twin, server_url,
                                                       monkeypatch):
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", server_url)
    case = _decided(enf, bus, demo_twin)
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - the test's own server
            f"{server_url}/pay/sim/{case.payment}", data=b"", method="POST")) as reply:
        assert "callback answered 200" in reply.read().decode()
    assert enf.get(case.id).stage == "closure"


def test_a_forged_callback_is_refused_with_401_json_and_logged(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    body = _body(case)
    headers = pay.signed_headers(b"not-the-secret", body)
    reply = client.post("/api/v1/payments/callback", data=body, headers=headers)
    assert reply.status_code == 401 and "bad signature" in reply.get_json()["error"]
    assert enf.get(case.id).stage == "payment"
    assert enf.payments.refusals()[-1]["status"] == "401"


def test_a_replayed_callback_is_refused_with_409(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    body = _body(case)
    headers = pay.signed_headers(enf.payments.secret(), body)
    assert client.post("/api/v1/payments/callback", data=body, headers=headers).status_code == 200
    reply = client.post("/api/v1/payments/callback", data=body, headers=headers)
    assert reply.status_code == 409 and "replayed" in reply.get_json()["error"]
    assert enf.get(case.id).paid_fen == case.amount_fen


def test_a_callback_signed_long_ago_is_refused_as_stale(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    body = _body(case)
    import time

    headers = pay.signed_headers(enf.payments.secret(), body, now=time.time() - 3600)
    reply = client.post("/api/v1/payments/callback", data=body, headers=headers)
    assert reply.status_code == 401 and "stale" in reply.get_json()["error"]


def test_a_callback_for_another_amount_is_refused_with_400(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    body = _body(case, fen=1)
    reply = client.post("/api/v1/payments/callback", data=body,
                        headers=pay.signed_headers(enf.payments.secret(), body))
    assert reply.status_code == 400 and "requested" in reply.get_json()["error"]


def test_an_unsigned_callback_is_refused_with_401(client):
    reply = client.post("/api/v1/payments/callback", data=b"{}",
                        headers={"Content-Type": "application/json"})
    assert reply.status_code == 401 and "unsigned" in reply.get_json()["error"]


def test_the_payment_request_has_a_qr_code_of_its_url(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    reply = client.get(f"/api/v1/payments/{case.payment}/qr.svg")
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml"
    assert b"<svg" in reply.data


@pytest.mark.parametrize("user, status", [
    ("supervisor", 200), ("commander", 200), ("admin", 200), ("officer_market", 200),
    ("grid_a", 403), ("planner", 403),
])
def test_enforcement_cases_are_read_by_the_roles_of_the_enforcement_page(
        enf, bus, demo_twin, client, user, status):
    _decided(enf, bus, demo_twin)
    _login(client, user)
    assert client.get("/api/v1/enforcement/cases").status_code == status


def test_enforcement_cases_without_a_login_or_key_answer_401_json(client):
    reply = client.get("/api/v1/enforcement/cases")
    assert reply.status_code == 401 and "error" in reply.get_json()


def test_a_supervisor_key_reads_every_departments_cases(enf, bus, demo_twin, client,
                                                        tmp_path):
    from dashboard.apikeys import add

    case = _decided(enf, bus, demo_twin)
    key = add(tmp_path / "api_keys.yaml", "sup", "supervisor", None)
    reply = client.get("/api/v1/enforcement/cases", headers={"X-API-Key": key})
    assert [c["id"] for c in reply.get_json()] == [case.id]


@pytest.mark.parametrize("user, status", [("supervisor", 200), ("commander", 403)])
def test_only_supervisors_and_admins_flag_a_case(enf, bus, demo_twin, client, user,
                                                 status):
    case = _decided(enf, bus, demo_twin)
    _login(client, user)
    reply = client.post(f"/api/v1/enforcement/cases/{case.id}/flag",
                        json={"note": "fine looks high"})
    assert reply.status_code == status
    assert enf.get(case.id).flagged is (status == 200)


def test_a_flag_without_a_note_is_refused_with_400(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    _login(client, "supervisor")
    reply = client.post(f"/api/v1/enforcement/cases/{case.id}/flag", json={"note": " "})
    assert reply.status_code == 400


def test_the_stats_count_the_on_site_payments_and_the_total_collected(enf, bus, demo_twin,
                                                                     client):
    case = _decided(enf, bus, demo_twin, yuan=150)
    body = _body(case)
    client.post("/api/v1/payments/callback", data=body,
                headers=pay.signed_headers(enf.payments.secret(), body))
    _decided(enf, bus, demo_twin, yuan=50)  # decided, not paid
    _login(client, "supervisor")
    figures = client.get("/api/v1/enforcement/stats").get_json()
    assert (figures["payments"], figures["collected_yuan"]) == (1, 150.0)
    assert (figures["on_site_payments"], figures["on_site_yuan"]) == (1, 150.0)
    assert figures["by_stage"] == {"closure": 1, "payment": 1}


def test_a_department_filter_that_is_no_department_id_answers_400_json(client):
    _login(client, "supervisor")
    reply = client.get("/api/v1/enforcement/cases?department=a%20b*")
    assert reply.status_code == 400 and "department" in reply.get_json()["error"]


def test_a_second_payment_of_a_paid_request_is_refused_with_409(enf, bus, demo_twin, client):
    case = _decided(enf, bus, demo_twin)
    for txn, status in (("T1", 200), ("T2", 409)):
        body = _body(case, txn=txn)
        reply = client.post("/api/v1/payments/callback", data=body,
                            headers=pay.signed_headers(enf.payments.secret(), body))
        assert reply.status_code == status
    assert enf.get(case.id).paid_fen == case.amount_fen


def test_the_simulators_page_is_gone_when_a_gateway_is_configured(enf, bus, demo_twin, client,
                                                                  monkeypatch):
    case = _decided(enf, bus, demo_twin)
    monkeypatch.setenv("CITYOPS_PAYMENT_GATEWAY", "https://pay.example/{payment}")
    reply = client.post(f"/pay/sim/{case.payment}")
    assert reply.status_code == 404 and "simulator is off" in reply.get_json()["error"]
    assert enf.get(case.id).stage == "payment"


def _opened(enf, bus, demo_twin, department):
    drawn = inspections.draw(bus, demo_twin, department, 1, 1, actor="chief")
    return enf.open(department, drawn["targets"][0], "draw", drawn["draw"], "chief")


def test_an_officer_lists_and_counts_only_their_departments_cases(enf, bus, demo_twin, client):
    mine, _other = _opened(enf, bus, demo_twin, "market"), _opened(enf, bus, demo_twin, "health")
    _login(client, "officer_market")
    assert [c["id"] for c in client.get("/api/v1/enforcement/cases").get_json()] == [mine.id]
    reply = client.get("/api/v1/enforcement/cases?department=market&open=1")
    assert [c["id"] for c in reply.get_json()] == [mine.id]
    assert client.get("/api/v1/enforcement/stats").get_json()["by_department"] == {"market": 1}


def test_an_officer_is_refused_another_departments_case_and_list(enf, bus, demo_twin, client):
    other = _opened(enf, bus, demo_twin, "health")
    _login(client, "officer_market")
    reply = client.get(f"/api/v1/enforcement/cases/{other.id}")
    assert reply.status_code == 404  # as for a case that does not exist: no hint it does
    assert reply.get_json() == client.get("/api/v1/enforcement/cases/E999999").get_json() | {
        "error": f"no enforcement case {other.id!r}"}
    assert client.get("/api/v1/enforcement/cases?department=health").status_code == 403
    assert client.post(f"/api/v1/enforcement/cases/{other.id}/flag",
                       json={"note": "x"}).status_code == 404
    assert not enf.get(other.id).flagged


def test_an_officer_may_not_flag_even_their_own_departments_case(enf, bus, demo_twin, client):
    mine = _opened(enf, bus, demo_twin, "market")
    _login(client, "officer_market")
    assert client.get(f"/api/v1/enforcement/cases/{mine.id}").status_code == 200
    reply = client.post(f"/api/v1/enforcement/cases/{mine.id}/flag", json={"note": "x"})
    assert reply.status_code == 403 and not enf.get(mine.id).flagged
