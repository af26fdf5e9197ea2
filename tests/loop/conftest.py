"""Fixtures of the closed-loop tests: one embedded Redis per session, a fresh key prefix per test."""

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


def cell_point(twin, grid: int = 5):
    """(lat, lng) of the first cell of a grid of the twin."""
    import numpy as np

    pos = int(np.flatnonzero(twin.ds["grid"].values == grid)[0])
    lat, lng = twin.centers
    return float(lat[pos]), float(lng[pos])


def alert(twin, category="waterlogging", grid=5, ts=None, rule="test", severity=2, **kw):
    """An Alert at the first cell of a grid."""
    from layers.loop.records import Alert

    lat, lng = cell_point(twin, grid)
    return Alert(id=f"A-{next(_counter)}", rule=rule, category=category, severity=severity,
                 lat=lat, lng=lng, ts=ts, **kw)
