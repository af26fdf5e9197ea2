"""Shared fixtures of the tests that need Redis: one embedded Redis per session, a fresh key
prefix per test, a manual clock and the case store.

Registered once for the whole suite by tests/conftest.py (`pytest_plugins`). Never import these
names into a test module: a fixture imported into a module is a separate fixture there, so each
such module started a session Redis of its own that lived until the end of the run.
"""

from __future__ import annotations

import itertools

import pytest

from layers.clock import ManualClock
from layers.testing import stop_server

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    from layers.live.bus import connect

    bus = connect(home=tmp_path_factory.mktemp("loop-redis"), fsync="no")
    yield bus
    stop_server(bus)


@pytest.fixture
def bus(redis_server, tmp_path):
    """A bus on the session's Redis with a prefix of its own (tests never see each other's keys)."""

    return redis_server.with_prefix(f"t{next(_counter)}:", home=tmp_path)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(scope="session")
def router(demo_twin):
    from layers.loop.routing import Router

    return Router(demo_twin)


@pytest.fixture
def store(bus, router, clock):
    from layers.loop.cases import CaseStore

    return CaseStore(bus, router, clock=clock)


@pytest.fixture
def escalator(store):
    from layers.loop.escalation import Escalator

    return Escalator(store)
