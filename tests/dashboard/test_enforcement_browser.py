"""The Enforcement page (执法监督) in a real headless Chromium: the supervisor's landing page with
every department's cases, their stage deadlines and the published figures, and the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.testing import stop_server
from tests.dashboard.browser import serve
from tests.dashboard.conftest import login, login_context

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(scope="module")
def enforce_app(demo_twin, tmp_path_factory):
    """(base URL, {name: case id}): one case paid on the spot, one at filing (health, market)."""
    from dashboard import context as app_context
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.loop import inspections
    from layers.loop.enforcement import EnforcementStore

    before = app_context._CONTEXT
    bus = connect(home=tmp_path_factory.mktemp("enforce-redis"), fsync="no")
    store = EnforcementStore(bus)
    ids = {}
    for name, dept in (("spot", "market"), ("filing", "health")):
        drawn = inspections.draw(bus, demo_twin, dept, 1, 1, actor="chief")
        ids[name] = store.open(dept, drawn["targets"][0], "draw", drawn["draw"], "chief",
                               party="person").id
    store.act(ids["spot"], "decide", "officer", amount_yuan=100)
    store.act(ids["filing"], "find", "officer")
    url, server = serve(create_app(demo_twin, bus=bus))
    yield url, ids
    server.shutdown()
    app_context._CONTEXT = before
    stop_server(bus)


def test_the_supervisor_lands_on_every_departments_cases_and_flags_one(page, enforce_app):
    url, ids = enforce_app
    login(page, url, "supervisor", lang="en")
    page.wait_for_url("**/enforcement*")  # the supervisor's home page
    page.goto(f"{url}/enforcement?lang=en")
    table = page.wait_for_selector("#enf-case-table", timeout=30_000)
    text = table.inner_text()
    assert ids["spot"] in text and ids["filing"] in text and "Filing" in text
    # the on-the-spot fine is due: its QR code, loaded from the payment route
    page.wait_for_function("() => { const q = document.querySelectorAll('#enf-case-table "
                           "img.pay-qr'); return q.length === 1 && q[0].complete && "
                           "q[0].naturalWidth > 0 }", timeout=30_000)
    page.click("#enf-case")
    page.get_by_role("option", name=ids["filing"], exact=False).click()
    page.fill("#enf-note", "filing is slow")
    page.click("#enf-flag")
    page.wait_for_selector(f"#enf-feedback:has-text('{ids['filing']}')")
    assert "Flagged" in page.inner_text("#enf-feedback")
    page.screenshot(path=str(SHOTS / "enforcement-en.png"), full_page=True)


def test_a_commander_reads_the_page_in_chinese_but_may_not_flag(page, enforce_app):
    url, ids = enforce_app
    login_context(page.context, url, "commander")
    page.goto(f"{url}/enforcement?lang=zh")
    page.wait_for_selector("#enf-case-table", timeout=30_000)
    assert "执法案件" in page.inner_text(".page.enforcement")
    page.click("#enf-case")
    page.get_by_role("option", name=ids["spot"], exact=False).click()
    page.fill("#enf-note", "x")
    page.click("#enf-flag")
    page.wait_for_selector("#enf-feedback:has-text('不能标记')")


def test_a_grid_manager_is_sent_to_their_own_page_without_the_enforcement_link(page,
                                                                              enforce_app):
    url, _ = enforce_app
    login_context(page.context, url, "grid_a")
    page.goto(f"{url}/enforcement?lang=en")
    page.wait_for_url("**/grid*")
    page.wait_for_selector(".topbar nav", timeout=30_000)
    assert "Enforcement" not in page.inner_text(".topbar nav")
    assert page.locator("#enf-case-table").count() == 0
