"""The Grid page's live side in Chromium: a grid manager sees their sensors' sparklines and the
last hour's events, opens a cell's card, and is refused another grid's cell on the raw endpoint.

The app runs on the demo twin against its own embedded Redis holding known water-level readings
of sensor S-water_level-011 and noise reports in grid 6 (G0007, user grid_a's), and a report in
grid 8 (grid_b's) that grid_a must never see.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import h3
import numpy as np
import pytest

from layers.testing import stop_server
from tests.dashboard.browser import login_context, serve

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SENSOR = "S-water_level-011"


def _at(twin, pos: int) -> dict[str, str]:
    lat, lng = twin.centers
    return {"lat": repr(float(lat[pos])), "lng": repr(float(lng[pos]))}


def _hex(twin, pos: int) -> str:
    return h3.int_to_str(int(twin.cell_ids[pos]))


@pytest.fixture(scope="module")
def grid_app(demo_twin, tmp_path_factory):
    """(base URL, hex of the sensor's cell, hex of a grid-8 cell) on a bus with known events."""
    from dashboard import context as app_context
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.live.worker import Worker

    before = app_context._CONTEXT  # the app context is process-wide: give it back afterwards
    bus = connect(home=tmp_path_factory.mktemp("grid-redis"), fsync="no")
    sensors = demo_twin.sensors
    sensor_pos = int(demo_twin.positions(
        sensors.loc[sensors["id"] == SENSOR, "cell"].to_numpy(np.uint64))[0])
    grid6 = np.flatnonzero(demo_twin.ds["grid"].values == 6)
    grid8 = np.flatnonzero(demo_twin.ds["grid"].values == 8)
    now = time.time()
    bus.publish("iot", [{"id": f"iot-wl-{k}", "ts": repr(now - 60 * (30 - k)),
                         **_at(demo_twin, sensor_pos), "sensor": SENSOR,
                         "metric": "water_level_m", "value": repr(1.0 + 0.1 * k)}
                        for k in range(30)])
    bus.publish("incident", [
        {"id": f"inc-{k}", "ts": repr(now - 120), **_at(demo_twin, int(pos)), "source": "hotline",
         "category": "noise", "severity": "2", "text": "夜间施工噪音"}
        for k, pos in enumerate(grid6[:3])] + [
        {"id": "inc-other", "ts": repr(now - 60), **_at(demo_twin, int(grid8[0])),
         "source": "hotline", "category": "fire", "severity": "3", "text": "grid 8 only"}])
    worker = Worker(bus, demo_twin, consumer="grid-browser", history=False)
    worker.start()
    worker.drain()
    worker.checkpoint(force_publish=True)
    url, server = serve(create_app(demo_twin, bus=bus))
    yield url, _hex(demo_twin, sensor_pos), _hex(demo_twin, int(grid8[0]))
    server.shutdown()
    worker.release()
    worker.close()
    app_context._CONTEXT = before
    stop_server(bus)


def _page(chromium, url: str, **viewport):
    context = chromium.new_context(**viewport)
    login_context(context, url, "grid_a")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return page


def _click_cell(page, hex_id: str) -> None:
    """What a click on the deck.gl cell sends: dash-deck's clickInfo with the picked record."""
    page.evaluate("h => window.dash_clientside.set_props('grid-map', "
                  "{clickInfo: {object: {hex: h}, coordinate: null}})", hex_id)


def test_a_grid_manager_sees_sparklines_events_and_a_cells_card(chromium, grid_app):
    url, sensor_hex, other_hex = grid_app
    page = _page(chromium, url, viewport={"width": 1600, "height": 1000})
    page.goto(f"{url}/grid?lang=en&grid=6")
    page.wait_for_selector(f"#gridx-spark-{SENSOR} .js-plotly-plot", timeout=30_000)
    points = page.evaluate(
        f"document.querySelector('#gridx-spark-{SENSOR} .js-plotly-plot').data[0].y"
        ".filter(v => v !== null).length")
    assert points == 30  # one mean per minute ingested
    events = page.locator("#gridx-incidents").inner_text()
    assert "Noise" in events and "3" in events
    latest = page.locator(".gridx-latest").inner_text()
    assert "夜间施工噪音" in latest and "grid 8 only" not in latest

    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data) if "/_dash-update-component" in r.url
            and '"output":"gridx-cell.children"' in (r.post_data or "") else None)
    _click_cell(page, sensor_hex)
    page.wait_for_function(f"document.querySelector('#gridx-cell-hex')?.innerText === "
                           f"'{sensor_hex}'")
    card = page.locator("#gridx-cell").inner_text()
    assert SENSOR in card and "Water level (m)" in page.locator("#gridx-cell-live").inner_text()
    page.wait_for_selector(".map.small canvas", state="attached")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(SHOTS / "grid-live-en.png"), full_page=True)

    body = json.loads(sent[-1])
    for item in body["inputs"]:
        if item["id"] == "grid-map":
            item["value"] = {"object": {"hex": other_hex}}
    reply = page.request.post(f"{url}/_dash-update-component", data=body)
    assert reply.status == 403 and other_hex not in reply.text()
    assert page.console_errors == []
    page.context.close()


def test_the_live_grid_page_fits_a_phone(chromium, grid_app):
    url, _, _ = grid_app
    page = _page(chromium, url, viewport={"width": 390, "height": 844}, is_mobile=True,
                 has_touch=True)
    page.goto(f"{url}/grid?grid=6")
    page.wait_for_selector(f"#gridx-spark-{SENSOR} .js-plotly-plot", timeout=30_000)
    assert "噪音" in page.locator("#gridx-incidents").inner_text()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "grid-live-phone-zh.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 4
    assert page.console_errors == []
    page.context.close()
