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
