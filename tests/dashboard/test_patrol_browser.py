"""The Inspection page (巡检) in a real headless Chromium: a planner opens it, sees the coverage
map and headline, plans the route what-if and reads its length."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from layers.testing import stop_server
from tests.dashboard.browser import serve
from tests.dashboard.conftest import login_context
from tests.layers.test_vehicle import fix

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(scope="module")
def patrol_app(demo_twin, tmp_path_factory):
    """The dashboard on a bus where one vehicle drove three road cells of one street/town."""
    from dashboard import context as app_context
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.live.producer import Producer

    before = app_context._CONTEXT
    bus = connect(home=tmp_path_factory.mktemp("patrol-redis"), fsync="no")
    unit = int(demo_twin.units["unit"].min())
    cells = np.flatnonzero((demo_twin.ds["road_capacity"].values > 0)
                           & (demo_twin.ds["unit"].values == unit))
    lat, lng = demo_twin.centers
    near = cells[np.argsort(np.hypot(lat[cells] - lat[cells[0]], lng[cells] - lng[cells[0]]))]
    now = time.time()
    Producer(bus, demo_twin).publish("vehicle", [fix(demo_twin, i, int(c), now - 90 + 30 * i)
                                                 for i, c in enumerate(near[:3])])
    url, server = serve(create_app(demo_twin, bus=bus))
    yield url
    server.shutdown()
    app_context._CONTEXT = before
    stop_server(bus)


def test_a_planner_sees_the_coverage_and_plans_the_route_what_if(page, patrol_app, demo_twin):
    login_context(page.context, patrol_app, "planner")
    page.goto(f"{patrol_app}/patrol?lang=en")
    page.wait_for_selector("#patrol-map-box canvas", timeout=60_000)
    headline = page.wait_for_selector("#patrol-headline", timeout=30_000).inner_text()
    assert headline == f"1 of {len(demo_twin.units)} streets/towns inspected"
    assert page.inner_text("#patrol-whatif") == "What-if (not live)"
    page.click("#patrol-plan")
    length = page.wait_for_selector("#patrol-route-length", timeout=60_000).inner_text()
    assert re.fullmatch(r"\d+\.\d km, about [\d,]+ min of driving", length)
    assert "greedy nearest neighbour" in page.inner_text("#patrol-route")
    assert page.console_errors == []
    page.wait_for_timeout(1500)  # the route drawn before the picture
    page.screenshot(path=str(SHOTS / "patrol-en.png"), full_page=True)
