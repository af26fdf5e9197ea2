"""A served fleet in headless Chromium: `cityops serve --workers 2` (gunicorn, background jobs on
Celery) on a real redis-server; the wall shows live readings and a scenario run in the
background on the Scenarios page, put on the wall by one process and read by another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import psutil
import pytest
import redis

from tests.dashboard.browser import free_port, login_context
from tests.dashboard.test_wall_browser import _carries, _collect, _publish_reading, _until
from tests.redis_process import RedisProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "cityops serve ended early"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(scope="module")
def fleet(demo_twin, tmp_path_factory):
    """(url, bus, serve process, its descendants): two gunicorn workers and a Celery worker on a
    redis-server of the test's own, an ingest worker beside them; everything stopped after."""
    from layers.live.bus import connect
    from layers.live.worker import Worker

    server = RedisProcess(tmp_path_factory.mktemp("fleet-redis")).start()
    port = free_port()
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--demo", "binhai",
                             "--workers", "2", "--redis", server.url, "--port", str(port)],
                            env=env, start_new_session=True)
    bus = connect(server.url)
    worker = Worker(bus, demo_twin, consumer="fleet-ingest", history=False)
    worker.start()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: worker.run(stop.is_set, block_ms=100), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/login", proc)
        yield url, bus, proc
    finally:
        parts = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        proc.terminate()
        code = proc.wait(timeout=120)
        stop.set()
        thread.join(timeout=10)
        worker.release()
        worker.close()
        bus.close()
        server.stop()
        _, alive = psutil.wait_procs(parts, timeout=60)
        assert code == 0 and alive == [], f"exit {code}, still running: {alive}"


def _page(chromium, url: str, path: str):
    ctx = chromium.new_context(viewport={"width": 1600, "height": 1000})
    login_context(ctx, url, "commander")
    page = ctx.new_page()
    page.console_errors = []
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(url + path)
    return ctx, page


def test_the_fleet_runs_two_dashboard_processes_and_a_jobs_worker(fleet):
    _, _, proc = fleet
    commands = [" ".join(p.cmdline()) for p in psutil.Process(proc.pid).children(recursive=True)]
    gunicorn = [c for c in commands if "gunicorn" in c]
    assert len(gunicorn) == 3  # the arbiter and its two workers
    assert any(" jobs " in c for c in commands)


def test_the_wall_shows_a_live_reading_through_the_fleet(chromium, fleet, demo_twin):
    url, bus, _ = fleet
    ctx, page = _page(chromium, url, "/?lang=en")
    try:
        page.wait_for_selector("#command-map-box canvas", timeout=60_000)
        bodies = _collect(page)  # the first layer comes with the page; updates follow
        pos = int(np.flatnonzero(demo_twin.ds["is_land"].values)[4321])
        hex_id = _publish_reading(bus, demo_twin, pos, f"fleet-{time.time()}")
        _until(page, lambda: any(_carries(b, hex_id) for b in bodies), "the reading")
        assert page.console_errors == []
    finally:
        ctx.close()


def test_a_scenario_runs_on_celery_and_goes_on_the_wall(chromium, fleet):
    url, bus, _ = fleet
    ctx, page = _page(chromium, url, "/scenarios?lang=en")
    try:
        page.wait_for_selector("#scn-map-box canvas", timeout=60_000)
        page.click("#scn-example")
        page.get_by_role("option", name="Port warehouse explosion (450 t TNT)").click()
        page.wait_for_function("document.querySelector('#scn-name').value.includes('explosion')")
        page.click("#scn-run")
        page.wait_for_selector("#scn-unit-table tbody tr", timeout=180_000)
        assert page.locator("#scn-unit-table tbody tr").count() >= 3
        raw = redis.Redis.from_url(bus.url)
        assert raw.zcard("cityops:scenario:runs") == 1  # the result lives in Redis
        assert raw.keys("cityops:jobs:celery-task-meta-*")  # and was made by a Celery task
        page.get_by_role("tab", name="Export").click()
        page.click("#scn-to-wall")
        page.wait_for_selector("#scn-wall-note:has-text('command wall')", timeout=60_000)
        people = json.loads(raw.get("cityops:scenario:active"))["people_affected"]
        assert people > 0
        wall_ctx, wall = _page(chromium, url, "/?lang=en")
        try:
            wall.wait_for_function(
                f"document.querySelector('#kpi-value-kpi_people_hazard')?.innerText === "
                f"'{people:,.0f}'", timeout=90_000)
        finally:
            wall_ctx.close()
        assert page.console_errors == []
    finally:
        ctx.close()
