"""Fixtures of the outside-client tests: the dashboard (with its OGC API) on a free localhost
port over a live bus with a few events, alerts and cases, and the credentials of each role."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.dashboard.browser import DEMO_PASSWORDS, serve
from tests.loop.conftest import alert
from tests.loop.test_open311_cap import keyring  # noqa: F401 - shared fixture

GRIDS = (5, 8)  # grid_a manages 5-7, grid_b 8-10 (data/users.yaml)


@pytest.fixture(scope="module")
def live_bus(redis_server, tmp_path_factory, demo_twin):
    """A bus with people seen in grid 5's first cell and one open case in each of GRIDS."""
    from layers.live.worker import Worker
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router

    live = redis_server.with_prefix(f"ogc{time.monotonic_ns()}:",
                                    home=tmp_path_factory.mktemp("ogc-bus"))
    pos = int(np.flatnonzero(demo_twin.ds["grid"].values == GRIDS[0])[0])
    lat, lng = demo_twin.centers
    now = time.time()
    live.publish("video", [{"id": f"v{i}", "ts": repr(now - 10), "lat": repr(float(lat[pos])),
                           "lng": repr(float(lng[pos])), "camera": "C1", "label": "person",
                           "count": "3", "confidence": "0.9"} for i in range(4)])
    Worker(live, demo_twin, consumer="ogc-test", history=False).drain()
    store = CaseStore(live, Router(demo_twin))
    for grid in GRIDS:
        opened = alert(demo_twin, grid=grid, ts=now, category="waterlogging", severity=3)
        opened.id = None  # the store numbers it
        store.ingest(opened)
    return live


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory):
    return tmp_path_factory.mktemp("keys") / "api_keys.yaml"


@pytest.fixture(scope="module")
def ogc(demo_twin, live_bus, keys_file):
    """The OGC API's base URL on a running dashboard."""
    from dashboard.app import create_app

    url, server = serve(create_app(demo_twin, live_bus, keys_file=keys_file))
    yield url + "/ogc"
    server.shutdown()


@pytest.fixture(scope="module")
def credentials(ogc, keys_file):
    """HTTP headers of an API key with a demo user's role and grids (data/users.yaml)."""
    from dashboard.apikeys import add
    from dashboard.users import load_users

    users = load_users(None)
    cache: dict[str, dict] = {}

    def headers(name: str) -> dict:
        if name not in cache:
            user = users[name]
            key = add(keys_file, f"key-{name}", user.role, sorted(user.grids))
            cache[name] = {"Authorization": f"Bearer {key}"}
        return cache[name]

    return headers


@pytest.fixture(scope="module")
def session_cookie(ogc):
    """The Cookie header of a demo user's browser session (POST /login)."""
    import requests

    def cookie(name: str) -> dict:
        reply = requests.post(ogc.removesuffix("/ogc") + "/login", allow_redirects=False,
                              data={"username": name, "password": DEMO_PASSWORDS[name]},
                              timeout=30)
        assert reply.status_code == 303, f"login as {name} failed: {reply.status_code}"
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in reply.cookies.items())}

    return cookie
