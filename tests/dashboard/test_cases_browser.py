"""Login, the Cases page and the grid manager's case work in a real headless Chromium.

The app is served on the demo twin against an embedded Redis holding four cases: two in grid 5
(user grid_a's), one overdue in grid 6 (grid_a's too) and one in grid 8 (grid_b's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from layers.testing import stop_server
from tests.dashboard.browser import serve
from tests.dashboard.conftest import DEMO_PASSWORDS, login, login_context
from tests.loop.conftest import alert

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(scope="module")
def loop_app(demo_twin, tmp_path_factory):
    """(base URL, case ids by name) of the dashboard on a Redis with cases in three grids."""
    from dashboard import context as app_context
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router

    before = app_context._CONTEXT  # the app context is process-wide: give it back afterwards
    bus = connect(home=tmp_path_factory.mktemp("cases-redis"), fsync="no")
    store = CaseStore(bus, Router(demo_twin))
    now = time.time()
    ids = {name: store.ingest(alert(demo_twin, cat, grid=grid, ts=now - age))[0]
           for name, cat, grid, age in (("water5", "waterlogging", 5, 0), ("crowd5", "crowd", 5, 0),
                                        ("fire6", "fire", 6, 3600),
                                        ("water8", "waterlogging", 8, 0))}
    url, server = serve(create_app(demo_twin, bus=bus))
    yield url, ids
    server.shutdown()
    app_context._CONTEXT = before
    stop_server(bus)


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                   has_touch=True)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()


def _queue_ids(page) -> set[str]:
    page.wait_for_selector(".case-table, #cases-row-empty", timeout=30_000)
    return {row.inner_text().split("\t")[0].strip()
            for row in page.locator(".case-row").all()}


def test_login_refuses_a_wrong_password_then_signs_in(page, loop_app):
    url, ids = loop_app
    page.goto(f"{url}/cases?lang=en")
    page.wait_for_url("**/login?next=*")
    page.fill("#login-username", "commander")
    page.fill("#login-password", "not-the-password")
    with page.expect_navigation():
        page.click("#login-submit")
    page.wait_for_selector("#login-error")
    page.fill("#login-username", "commander")
    page.fill("#login-password", DEMO_PASSWORDS["commander"])
    with page.expect_navigation():
        page.click("#login-submit")
    page.wait_for_url("**/cases?lang=en")
    assert _queue_ids(page) == set(ids.values())


def test_the_cases_page_lists_cases_highlights_overdue_and_shows_the_trail(page, loop_app):
    url, ids = loop_app
    login(page, url, "commander", lang="en")
    page.goto(f"{url}/cases?lang=en")
    assert _queue_ids(page) == set(ids.values())
    overdue = page.locator(".case-row.overdue")
    assert overdue.count() == 1 and ids["fire6"] in overdue.inner_text()
    assert "overdue" in overdue.locator(".countdown").inner_text()
    overdue.click()
    page.wait_for_selector(".trail-table")
    assert "Opened" in page.locator(".trail-table").inner_text()
    assert page.locator(".no-actions").count() == 1  # a commander reads, does not act
    page.wait_for_selector("#cases-map-box canvas")
    page.wait_for_timeout(3000)
    page.screenshot(path=str(SHOTS / "cases-en.png"), full_page=True)
    assert page.console_errors == []


def test_a_grid_manager_cannot_see_another_grids_case(page, loop_app):
    url, ids = loop_app
    login_context(page.context, url, "grid_a")
    page.goto(f"{url}/cases?lang=en")
    assert _queue_ids(page) == {ids["water5"], ids["crowd5"], ids["fire6"]}
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if "/_dash-update-component" in r.url
            and '"output":"cases-detail.children"' in (r.post_data or "") else None)
    page.locator(".case-row", has_text=ids["water5"]).click()
    page.wait_for_selector(".trail-table")
    body = json.loads(sent[-1])
    for item in body["inputs"]:
        if item["id"] == "cases-selected":
            item["value"] = ids["water8"]
    reply = page.request.post(f"{url}/_dash-update-component", data=body)
    assert reply.status == 403
    assert "G0009" not in reply.text() and "trail" not in reply.text()  # nothing of the case
    grid = page.request.post(f"{url}/_dash-update-component", data={
        "output": "..grid-card.children...grid-map.data..",
        "outputs": [{"id": "grid-card", "property": "children"},
                    {"id": "grid-map", "property": "data"}],
        "inputs": [{"id": "grid-pick", "property": "value", "value": 8},
                   {"id": "grid-map-size", "property": "data", "value": None}],
        "state": [{"id": "grid-lang", "property": "data", "value": "en"}],
        "changedPropIds": ["grid-pick.value"]})
    assert grid.status == 403


def test_a_grid_manager_accepts_a_case_of_their_grid_on_a_phone(phone, loop_app):
    url, ids = loop_app
    login_context(phone.context, url, "grid_a")
    phone.goto(f"{url}/grid?lang=en&grid=8")  # not theirs: they get their own grid instead,
    card = phone.locator(f"#grid-case-{ids['fire6']}")  # the one with the overdue case
    card.wait_for(timeout=30_000)
    assert phone.locator(f"#grid-case-{ids['water8']}").count() == 0
    assert phone.locator("#grid-pick").input_value().startswith("G0007")
    card.locator(".act-accept").click()
    phone.wait_for_function(f"document.querySelector('#grid-case-{ids['fire6']}')"
                            ".innerText.toLowerCase().includes('accepted')")
    assert card.locator(".act-arrive").count() == 1
    phone.wait_for_timeout(1500)
    phone.screenshot(path=str(SHOTS / "grid-phone-en.png"), full_page=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 4  # nothing wider than the phone
    assert phone.console_errors == []


def test_a_case_card_says_what_where_and_when_with_the_citizens_words_on_top(phone, loop_app):
    url, ids = loop_app
    login_context(phone.context, url, "grid_a")
    phone.goto(f"{url}/grid?lang=en&grid=5")
    card = phone.locator(f"#grid-case-{ids['water5']}")
    card.wait_for(timeout=30_000)
    text = card.inner_text()
    assert "Waterlogging" in text and "G0006" in text and "near" in text and "opened" in text
    box = card.locator(".act-accept").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a thumb's target


def test_a_grid_manager_resolves_with_a_photo_on_a_phone(phone, loop_app, tmp_path,
                                                        monkeypatch):
    """The photo chosen on the card goes with the resolution: stored, named in the trail,
    served to the manager, refused to another grid's manager."""
    from dashboard.context import context
    from layers.loop.cases import CaseStore

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))  # where the served app keeps media
    url, ids = loop_app
    cid = ids["crowd5"]
    login_context(phone.context, url, "grid_a")
    phone.goto(f"{url}/grid?lang=zh&grid=5")
    card = phone.locator(f"#grid-case-{cid}")
    card.wait_for(timeout=30_000)
    card.locator(".act-accept").click()
    card.locator(".act-resolve").wait_for(timeout=30_000)
    photo = tmp_path / "done.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    card.locator(".photo-upload input[type=file]").set_input_files(str(photo))
    card.get_by_text("已选照片：done.png").wait_for(timeout=30_000)
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(phone).response["violations"]  # the photo box is accessible too
    assert [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in found
            if v["impact"] in ("serious", "critical")] == []
    card.locator(".case-note textarea").fill("人群已疏散")
    card.locator(".act-resolve").click()
    phone.wait_for_function(f"!document.querySelector('#grid-case-{cid}')", timeout=30_000)
    record = CaseStore(context().bus, None).history(cid)[-1]["data"]
    assert record["action"] == "resolve" and record["note"] == "人群已疏散"
    (name,) = record["photos"]
    assert (tmp_path / "media" / cid / name).read_bytes() == photo.read_bytes()
    served = phone.request.get(f"{url}/media/{cid}/{name}")
    assert served.status == 200 and served.body() == photo.read_bytes()
    login_context(phone.context, url, "grid_b")
    assert phone.request.get(f"{url}/media/{cid}/{name}").status == 403
    assert phone.console_errors == []


def test_the_language_switch_changes_the_cases_labels(page, loop_app):
    url, _ = loop_app
    login_context(page.context, url, "grid_b")
    page.goto(f"{url}/cases")
    page.wait_for_selector(".cases-queue h3")
    assert page.locator(".cases-queue h3").inner_text() == "案件队列"
    page.click("#lang-switch")
    page.wait_for_function(
        "document.querySelector('.cases-queue h3').innerText === 'Case queue'")
    assert "Sign out" in page.locator("#logout").inner_text()


def test_a_photo_over_the_limit_is_refused_on_the_card_in_the_page_language(phone, loop_app,
                                                                           demo_twin):
    """The upload box drops a file over its size limit silently: the card says why instead."""
    from dashboard.context import context
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router

    url, _ = loop_app
    cid = CaseStore(context().bus, Router(demo_twin)).ingest(
        alert(demo_twin, "waterlogging", grid=7, ts=time.time()))[0]
    login_context(phone.context, url, "grid_a")
    phone.goto(f"{url}/grid?lang=zh&grid=7")
    card = phone.locator(f"#grid-case-{cid}")
    card.wait_for(timeout=30_000)
    card.locator(".act-accept").click()
    card.locator(".act-resolve").wait_for(timeout=30_000)
    card.locator(".photo-upload input[type=file]").set_input_files(
        {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8" + bytes(6 * 2**20)})
    refusal = card.locator(".photo-refused")
    refusal.get_by_text("超过 5 MB 上限").wait_for(timeout=30_000)
    assert "big.jpg" in refusal.inner_text() and "6.0 MB" in refusal.inner_text()
    assert "已选照片" not in card.inner_text()  # nothing was taken
