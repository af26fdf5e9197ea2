"""The Enforcement page (执法监督) in a real headless Chromium: the supervisor's landing page with
every department's cases, their stage deadlines and the published figures, and the flag; the
officer's case desk (办案), where a market officer moves their own case in their own name."""

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
    """(base URL, {name: case id}): one market case decided on the spot (payment due), one
    health case at filing, one market case still at inspection (for the officer)."""
    from dashboard import context as app_context
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.loop import inspections
    from layers.loop.enforcement import EnforcementStore

    before = app_context._CONTEXT
    bus = connect(home=tmp_path_factory.mktemp("enforce-redis"), fsync="no")
    store = EnforcementStore(bus)
    ids = {}
    for name, dept in (("spot", "market"), ("filing", "health"), ("inspection", "market")):
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


def test_an_officer_decides_their_case_on_the_spot_and_the_trail_names_them(page, enforce_app):
    url, ids = enforce_app
    login(page, url, "officer_market", lang="zh")
    page.wait_for_url("**/enforcement*")  # the officer's home page
    table = page.wait_for_selector("#enf-case-table", timeout=30_000)
    assert ids["filing"] not in table.inner_text()  # the health department's case is not theirs
    assert page.locator("#enf-flag-card").is_hidden()  # officers do not flag
    page.click("#enf-desk-case")
    assert page.get_by_role("option", name=ids["filing"], exact=False).count() == 0
    page.get_by_role("option", name=ids["inspection"], exact=False).click()
    page.wait_for_selector("#enf-desk-stage:has-text('检查')", timeout=30_000)
    assert "剩余" in page.inner_text("#enf-desk-left")
    page.fill(".desk-amount input", "500")  # over the on-the-spot limit for a person
    page.click("button.act-decide")
    page.wait_for_selector(".desk-refused:has-text('200')", timeout=30_000)
    assert "立案" in page.inner_text(".desk-refused")
    page.fill(".desk-amount input", "100")
    page.click("button.act-decide")
    page.wait_for_selector("#enf-desk-stage:has-text('缴纳罚款')", timeout=30_000)
    last = page.locator("#enf-desk-trail tbody tr").last.inner_text()
    assert "officer_market" in last and "作出处罚决定" in last and "100.00" in last
    page.wait_for_function("() => { const q = document.querySelector('#enf-desk-qr'); "
                           "return q && q.complete && q.naturalWidth > 0 }", timeout=30_000)
    href = page.get_attribute("#enf-desk-pay-link", "href")
    assert "/pay/sim/" in href
    page.screenshot(path=str(SHOTS / "enforcement-officer-zh.png"), full_page=True)
    from axe_playwright_python.sync_playwright import Axe

    bad = [(v["id"], [n["target"] for n in v["nodes"][:3]])
           for v in Axe().run(page).response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == []  # the open desk (inputs, buttons, code, trail) too
