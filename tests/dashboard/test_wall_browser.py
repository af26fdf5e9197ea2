"""The Command wall live, in Chromium: events reach the screen; a dead Redis shows a banner."""

from __future__ import annotations

import os
import signal
import threading
import time

import h3
import numpy as np
import pytest

from layers.testing import server_pid, stop_server
from tests.dashboard.browser import login_context, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_wall(demo_twin, tmp_path_factory):
    """The dashboard on a bus of its own (own embedded Redis) with an ingest worker running."""
    from dashboard.app import create_app
    from dashboard.context import context, set_context
    from layers.live.bus import connect
    from layers.live.worker import Worker

    try:
        previous = context()
    except RuntimeError:
        previous = None
    bus = connect(home=tmp_path_factory.mktemp("wall-home"))
    worker = Worker(bus, demo_twin, consumer="wall-ingest", history=False)
    worker.start()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: worker.run(stop.is_set, block_ms=100), daemon=True)
    thread.start()
    url, server = serve(create_app(demo_twin, bus=bus))
    yield url, bus
    server.shutdown()
    stop.set()
    thread.join(timeout=10)
    worker.release()
    worker.close()
    stop_server(bus)
    if previous is not None:
        set_context(previous.twin, previous.bus, **previous.settings)


@pytest.fixture()
def wall_page(chromium, live_wall):
    url, _ = live_wall
    ctx = chromium.new_context(viewport={"width": 1600, "height": 1000})
    login_context(ctx, url, "commander")
    page = ctx.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(url + "/?lang=en")
    page.wait_for_selector("#command-map-box canvas", timeout=30_000)
    yield page
    ctx.close()


def _publish_reading(bus, twin, pos: int, event_id: str) -> str:
    """A citizen report in the cell at `pos` (the desk wall shows reports by default)."""
    lat, lng = twin.centers
    bus.publish("incident", [{"id": event_id, "ts": repr(time.time()),
                              "lat": repr(float(lat[pos])), "lng": repr(float(lng[pos])),
                              "source": "hotline", "category": "noise", "severity": "2",
                              "text": "噪音"}])
    return h3.int_to_str(int(twin.cell_ids[pos]))


def _collect(page) -> list[str]:
    """The bodies of the page's callback responses, as they arrive."""
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text())
            if "_dash-update-component" in r.url and r.status == 200 else None)
    return bodies


def _until(page, condition, what: str, timeout_s: float = 90.0) -> None:
    """Wait (in the page's own event loop) until `condition()` holds; generous on purpose."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        page.wait_for_timeout(200)


def _parents(hex_id: str) -> list[str]:
    """The cell and its parents: the wall shows a layer at the level its zoom needs."""
    res = h3.get_resolution(hex_id)
    return [hex_id] + [h3.cell_to_parent(hex_id, r) for r in range(4, res)]


def _carries(body: str, hex_id: str) -> bool:
    """A wall update carrying the cell (or its parent at the level shown) with a count."""
    import re

    return any(re.search(f'"hex": ?"{h}", ?"v": ?[1-9]', body) for h in _parents(hex_id))


def test_an_event_published_to_the_bus_appears_on_the_wall(wall_page, live_wall, demo_twin):
    _, bus = live_wall
    bodies = _collect(wall_page)
    pos = int(np.flatnonzero(demo_twin.ds["is_land"].values)[1234])
    hex_id = _publish_reading(bus, demo_twin, pos, f"wall-{time.time()}")
    _until(wall_page, lambda: any(_carries(b, hex_id) for b in bodies),
           f"cell {hex_id} to reach the browser")
    assert wall_page.locator("#kpi-value-kpi_events_min").inner_text() != "—"
    assert wall_page.console_errors == []


def test_updates_after_the_first_carry_only_changed_cells(wall_page, live_wall, demo_twin):
    _, bus = live_wall
    bodies = _collect(wall_page)
    land = np.flatnonzero(demo_twin.ds["is_land"].values)
    first = _publish_reading(bus, demo_twin, int(land[4321]), f"wall-b-{time.time()}")
    _until(wall_page, lambda: any(_carries(b, first) for b in bodies), f"cell {first}")
    seen = len(bodies)  # the colour scale now fits a count of 1: no reason to resend the layer
    second = _publish_reading(bus, demo_twin, int(land[5321]), f"wall-c-{time.time()}")
    _until(wall_page, lambda: any(_carries(b, second) for b in bodies[seen:]), f"cell {second}")
    patch = next(b for b in bodies[seen:] if _carries(b, second))
    assert '"H3HexagonLayer"' not in patch  # the changed cell alone, not the layer again


def test_stale_banner_shows_while_redis_is_stopped_and_goes_away_after(wall_page, live_wall):
    _, bus = live_wall
    banner = wall_page.locator("#stale-banner")
    bodies = _collect(wall_page)
    _until(wall_page, lambda: len(bodies) >= 2, "the wall's first updates")
    assert banner.is_hidden()
    os.kill(server_pid(bus), signal.SIGSTOP)
    try:
        banner.wait_for(state="visible", timeout=90_000)
    finally:
        os.kill(server_pid(bus), signal.SIGCONT)
    banner.wait_for(state="hidden", timeout=90_000)


def test_a_scenario_put_on_the_wall_shows_its_people_in_hazard_zones(wall_page, live_wall):
    from dashboard import overlay

    _, bus = live_wall
    overlay.publish(bus, {"run_id": "r-wall", "name": "test", "hazard": "explosion",
                          "people_affected": 12345.0, "cells": [], "severity": []})
    try:
        wall_page.wait_for_function(
            "document.querySelector('#kpi-value-kpi_people_hazard').innerText === '12,345'",
            timeout=90_000)
    finally:
        overlay.publish(bus, None)


def test_a_slow_server_never_has_more_than_one_wall_poll_in_flight(wall_page, monkeypatch):
    from dashboard import live

    real = live.update

    def slow(*args, **kw):
        time.sleep(4.0)  # slower than the wall's timer
        return real(*args, **kw)

    monkeypatch.setattr(live, "update", slow)
    in_flight, most, done = set(), [0], []

    def is_poll(request) -> bool:
        return "_dash-update-component" in request.url and "wall-tick" in (request.post_data or "")

    def started(request):
        if is_poll(request):
            in_flight.add(id(request))
            most[0] = max(most[0], len(in_flight))

    def finished(request):
        if id(request) in in_flight:
            in_flight.discard(id(request))
            done.append(1)

    wall_page.on("request", started)
    wall_page.on("requestfinished", finished)
    wall_page.on("requestfailed", finished)
    _until(wall_page, lambda: len(done) >= 3, "three slow polls", timeout_s=180)
    assert most[0] == 1


def test_the_inspection_vehicle_is_shown_on_the_wall_at_its_last_fix(wall_page, live_wall,
                                                                     demo_twin):
    from layers.live.producer import Producer
    from tests.layers.test_vehicle import fix

    _, bus = live_wall
    bodies = _collect(wall_page)
    pos = int(np.flatnonzero(demo_twin.ds["road_capacity"].values > 0)[0])
    Producer(bus, demo_twin).publish("vehicle", [fix(demo_twin, 0, pos, time.time(),
                                                     vehicle="BH-XJ-WALL", heading="90")])
    _until(wall_page, lambda: any('"vehicles"' in b and "BH-XJ-WALL" in b for b in bodies),
           "the vehicle's marker on the wall")
