"""The demo's enforcement workload: draws open cases, cases move, fines are paid through the
simulator's signed callback over HTTP, an inspection outside the draw is refused; all audited."""

from __future__ import annotations

import random

import pytest

from dashboard import enforce_demo
from layers.loop import payments as pay
from layers.loop.enforcement import EnforcementStore
from layers.loop.integrity import verify
from tests.dashboard.browser import serve

STEPS = 400


@pytest.fixture
def workload(demo_twin, bus, tmp_path):
    """(store, list of what each step did) after STEPS seeded steps against a served app."""
    from dashboard.app import create_app

    url, server = serve(create_app(demo_twin, bus=bus, keys_file=tmp_path / "keys.yaml"))
    store = EnforcementStore(bus, tz=demo_twin.timezone)
    sim = pay.Simulator(bus, callback_url=f"{url}/api/v1/payments/callback")
    rng = random.Random(1)
    done = [enforce_demo.step(store, sim, demo_twin, rng) for _ in range(STEPS)]
    yield store, done
    server.shutdown()


def test_the_workload_pays_fines_through_the_callback_and_closes_cases(workload):
    store, done = workload
    paid = [c for c in store.all() if c.paid_fen > 0]
    assert paid and all(c.payment for c in paid)
    assert any("callback 200" in d for d in done)
    assert any(c.stage == "closed" and c.outcome == "paid" for c in store.all())


def test_the_workload_tries_an_undrawn_inspection_and_it_is_refused(workload):
    store, done = workload
    assert any(d.startswith("refused:") for d in done)
    assert store.refusals()[0]["target"] == "F-undrawn"


def test_everything_the_workload_did_verifies_in_the_audit_log(workload, bus):
    result = verify(bus)
    assert result.ok and result.enforcement_cases == len(workload[0].all())
