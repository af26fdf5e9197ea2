"""Browser fixtures: the app served on a free localhost port, a headless Chromium page.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright's Python package; it is never
downloaded. When $CI is set, a missing browser fails the suite instead of skipping it.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.dashboard.browser import (  # noqa: F401 - re-exported for the tests
    ARGS,
    CHROMIUM,
    DEMO_PASSWORDS,
    login,
    login_context,
    serve,
)


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (skipped without one, unless CI is set)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a browser: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"no browser at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


# The demo users of data/users.yaml and their passwords (documented in the README).
@pytest.fixture(scope="session")
def demo_app_url(demo_twin):
    """The dashboard on the Binhai demo twin."""
    from dashboard.app import create_app

    url, server = serve(create_app(demo_twin))
    yield url
    server.shutdown()


@pytest.fixture
def page(chromium, request):
    """A fresh page that records console errors in `page.console_errors`; logged in as the
    commander when the test uses `demo_app_url` (every page needs a session)."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    if "demo_app_url" in request.fixturenames:
        login_context(context, request.getfixturevalue("demo_app_url"), "commander")
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    yield pg
    context.close()


@pytest.fixture(scope="session")
def live_demo(demo_twin, tmp_path_factory):
    """The dashboard on a live demo system of its own (embedded Redis, feed, ingest, rules,
    escalation) that has opened cases; its base URL."""
    import time

    from dashboard import context as app_context
    from dashboard.app import create_app
    from dashboard.system import LiveSystem, escalation_service, rules_service
    from layers.loop.cases import CaseStore
    from layers.testing import stop_server

    before = app_context._CONTEXT
    system = LiveSystem(demo_twin, rate=60.0, home=tmp_path_factory.mktemp("live-demo"),
                        services=[rules_service(demo_twin), escalation_service(demo_twin)],
                        shares={"iot": 0.3, "video": 0.65, "incident": 0.05}, history=False)
    url, server = serve(create_app(demo_twin, bus=system.bus))
    deadline = time.monotonic() + 120
    while CaseStore(system.bus, None).count_open() < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    yield url
    server.shutdown()
    system.stop(close_bus=False)
    stop_server(system.bus)  # whoever still holds a connection (the app's threads)
    app_context._CONTEXT = before
