"""CORS in a real browser: a page on a configured origin reads and posts Open311 (JSON, so the
POST is preflighted) on the dashboard's origin; a page on another origin is refused by Chromium."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import serve
from tests.loop.conftest import cell_point

KEY = "cors-test-key"

FETCH = """async ([base, body]) => {
  try {
    const got = await fetch(base + "/open311/v2/services.json");
    const services = await got.json();
    const posted = await fetch(base + "/open311/v2/requests.json", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    return {services: services.length, status: posted.status, reply: await posted.json()};
  } catch (e) {
    return {error: String(e)};
  }
}"""


@pytest.fixture
def origins(monkeypatch, bus, demo_twin):
    """(the dashboard's URL, a page on the allowed origin, a page on another origin)."""
    from flask import Flask

    from dashboard.app import create_app

    page_server = Flask("pages")
    page_server.add_url_rule("/", "page", lambda: "<!doctype html><title>citizen app</title>")
    pages, pages_server = serve(type("App", (), {"server": page_server})())
    monkeypatch.setenv("CITYOPS_OPEN311_CORS", pages)
    dashboard, dashboard_server = serve(create_app(demo_twin, bus=bus, api_keys={KEY}))
    yield dashboard, pages, pages.replace("127.0.0.1", "localhost")
    dashboard_server.shutdown()
    pages_server.shutdown()


def test_a_page_on_a_configured_origin_reads_and_posts_open311(chromium, origins, demo_twin,
                                                              bus):
    from layers.testing import raw

    dashboard, allowed, other = origins
    lat, lng = cell_point(demo_twin, 12)
    body = {"api_key": KEY, "service_code": "noise", "lat": lat, "long": lng,
            "description": "深夜施工噪音"}
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(allowed)
        done = page.evaluate(FETCH, [dashboard, body])
        assert done.get("status") == 201, done
        assert done["services"] > 5 and len(done["reply"][0]["service_request_id"]) == 20
        page.goto(other)
        refused = page.evaluate(FETCH, [dashboard, body])
        assert "error" in refused and "Failed to fetch" in refused["error"], refused
        assert raw(bus).xlen(bus.stream("incident")) == 1  # the allowed page's report only
    finally:
        context.close()
