"""The checks of the wall and the phone page in Chromium, and accessibility (axe-core) of every
page: the kiosk fills 3840x2160 and 1920x1080 with no scrollbar and nothing outside the screen,
shows no navigation, a legend, a chart and a ticker whose lines say where; the grid page fits a
390x844 phone; no page has a serious or critical axe violation (contrast included).
"""

from __future__ import annotations

import pytest

from tests.dashboard.browser import login_context

pytestmark = pytest.mark.browser

OUTSIDE = """() => {
    const W = window.innerWidth, H = window.innerHeight, out = [];
    for (const el of document.body.querySelectorAll('*')) {
        const style = getComputedStyle(el);
        if (style.display === 'none' || style.visibility === 'hidden') continue;
        if (el.closest('.js-plotly-plot, svg, canvas, [hidden]')) continue;
        for (const r of el.getClientRects()) {
            if (r.width === 0 || r.height === 0) continue;
            if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1)
                out.push(`${el.tagName}.${el.className} ${Math.round(r.left)},${Math.round(r.top)}`
                         + ` ${Math.round(r.right)}x${Math.round(r.bottom)}`);
        }
    }
    return out.slice(0, 10);
}"""


def _open(chromium, url: str, path: str, user: str | None, width: int, height: int, **kw):
    context = chromium.new_context(viewport={"width": width, "height": height}, **kw)
    if user:
        login_context(context, url, user)
    page = context.new_page()
    page.goto(url + path)
    page.wait_for_load_state("networkidle", timeout=60_000)
    return page


@pytest.mark.parametrize(("width", "height"), [(3840, 2160), (1920, 1080)])
def test_the_kiosk_fills_the_screen_with_no_navigation_and_every_panel(chromium, live_demo,
                                                                      width, height):
    page = _open(chromium, live_demo, "/?wall=1&lang=zh", "commander", width, height)
    page.wait_for_selector("#wall-events .js-plotly-plot .main-svg", timeout=60_000)
    page.wait_for_selector("#alert-ticker li", timeout=90_000)
    page.wait_for_timeout(2000)
    sizes = page.evaluate("[document.documentElement.scrollWidth, "
                          "document.documentElement.scrollHeight]")
    assert sizes[0] <= width and sizes[1] <= height  # no scrollbar
    assert page.evaluate(OUTSIDE) == []
    for absent in ("nav", "#lang-switch", "#logout", ".dash-dropdown", "button", "#replay"):
        assert page.locator(absent).count() == 0, absent
    assert page.locator("#wall-legend .legend-ramp").count() == 1
    assert page.locator("#wall-choropleth .js-plotly-plot").count() == 1
    places = page.locator("#alert-ticker li .place").all_inner_texts()
    assert places and all(p.strip() for p in places)
    body = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.kiosk'))"
                         ".fontSize)")
    assert body >= (28 if width >= 3840 else 14)  # readable at 5 m on a 4K wall
    page.context.close()


def test_the_grid_page_fits_a_phone(chromium, live_demo):
    page = _open(chromium, live_demo, "/grid?lang=zh", "grid_a", 390, 844, is_mobile=True,
                 has_touch=True)
    page.wait_for_selector("#grid-cases .case-card, #grid-no-cases", timeout=60_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wide = page.evaluate("""() => [...document.body.querySelectorAll('*')].filter(el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1)
            && !el.closest('canvas, svg, .js-plotly-plot');
    }).map(el => el.tagName + '.' + el.className).slice(0, 10)""")
    assert wide == []
    first = page.evaluate("document.querySelector('.grid-body').firstElementChild.className")
    assert "grid-cases" in first  # the case list first
    page.context.close()


AXE_PAGES = [("/?lang=zh", "commander"), ("/?wall=1&lang=en", "commander"),
             ("/grid?lang=zh", "grid_a"), ("/cases?lang=en", "commander"),
             ("/scenarios?lang=zh", "planner"), ("/patrol?lang=zh", "planner"),
             ("/patrol?lang=en", "planner"), ("/enforcement?lang=zh", "supervisor"),
             ("/enforcement?lang=en", "supervisor"), ("/enforcement?lang=zh", "officer_market"),
             ("/login?lang=en", None)]


@pytest.mark.parametrize(("path", "user"), AXE_PAGES)
def test_no_page_has_a_serious_or_critical_accessibility_violation(chromium, live_demo, path,
                                                                   user):
    from axe_playwright_python.sync_playwright import Axe

    page = _open(chromium, live_demo, path, user, 1600, 1000)
    page.wait_for_timeout(3000)
    results = Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    page.context.close()
    assert bad == [], "\n".join(map(str, bad))
