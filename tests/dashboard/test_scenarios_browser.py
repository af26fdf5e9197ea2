"""The Scenarios page in headless Chromium on the Binhai demo twin: render, run, switch language."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

pytestmark = pytest.mark.browser

# Remember whether the progress box was ever shown, however short the run (set before clicking).
# basemap fills and outline of dashboard.maps, and the page background behind the canvas
BASEMAP = np.array([[34, 38, 46], [18, 44, 78], [40, 90, 150], [140, 150, 170], [15, 19, 26],
                    [0, 0, 0]])
WATCH_PROGRESS = """() => {
  window.__progressSeen = false;
  const box = document.querySelector('#scn-progress-box');
  new MutationObserver(() => {
    if (box.style.display !== 'none') window.__progressSeen = true;
  }).observe(box, {attributes: true, attributeFilter: ['style']});
}"""


def _map_pixels(page) -> np.ndarray:
    from PIL import Image

    png = page.locator("#scn-map-box canvas").first.screenshot(
        style=".scn-legend { visibility: hidden !important; }")  # the legend's swatches are warm
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _hexagon_pixels(page) -> tuple[float, int]:
    """(share of pixels far from every basemap colour, count of warm ramp pixels: yellow..red).

    The basemap is only greys and blues, so warm pixels can only be the hazard's hexagons.
    """
    px = _map_pixels(page)
    distance = np.abs(px[..., None, :] - BASEMAP[None, None, :, :]).sum(-1).min(-1)
    warm = (px[..., 0] > 150) & (px[..., 0] > px[..., 2] + 80)
    return float((distance > 60).mean()), int(warm.sum())


def _open(page, url: str, lang: str) -> None:
    page.goto(f"{url}/scenarios?lang={lang}")
    page.wait_for_selector("#scn-map-box canvas", timeout=30_000)


def _choose(page, select_id: str, option_text: str) -> None:
    page.click(f"#{select_id}")
    page.get_by_role("option", name=option_text).click()


def test_scenarios_page_renders_without_console_errors(page, demo_app_url):
    _open(page, demo_app_url, "en")
    page.wait_for_timeout(1500)
    assert page.locator("#scn-run").inner_text() == "Run"
    assert page.console_errors == []


def test_running_an_explosion_shows_progress_then_the_impact_and_hexagons(page, demo_app_url):
    _open(page, demo_app_url, "en")
    page.wait_for_timeout(1500)
    before, warm_before = _hexagon_pixels(page)
    assert warm_before == 0
    _choose(page, "scn-example", "Port warehouse explosion (450 t TNT)")
    page.wait_for_function("document.querySelector('#scn-name').value.includes('explosion')")
    page.wait_for_function(
        "document.querySelector('input[id*=\"parameters.tnt_kg\"]')?.value?.startsWith('450')")
    page.evaluate(WATCH_PROGRESS)
    page.click("#scn-run")
    page.wait_for_selector("#scn-unit-table tbody tr", timeout=45_000)
    assert page.evaluate("window.__progressSeen")
    assert page.locator("#scn-unit-table tbody tr").count() >= 3
    assert "Hangzhoudao Subdistrict" in page.locator("#scn-unit-table").inner_text()
    assert page.locator("#scn-facility-table tbody tr").count() >= 1
    for _ in range(20):  # give swiftshader a few seconds to draw the layer
        share, warm = _hexagon_pixels(page)
        if warm > 200 and share > 2 * before:
            break
        page.wait_for_timeout(500)
    assert warm > 200 and share > 2 * before
    legend = page.locator("#scn-legend").inner_text()
    assert "Blast overpressure (kPa)" in legend and "Glass breakage" in legend
    assert page.console_errors == []


def test_two_runs_of_one_hazard_compare_with_a_change_map_and_other_hazards_side_by_side(
        page, demo_app_url):
    _open(page, demo_app_url, "en")
    for example, title in (("Port warehouse explosion (450 t TNT)", "Blast overpressure"),
                           ("Nangang chlorine release", "Concentration")):
        _choose(page, "scn-example", example)
        page.wait_for_timeout(500)
        page.click("#scn-run")
        page.wait_for_function(f"document.querySelector('#scn-legend').innerText"
                               f".includes('{title}')", timeout=90_000)
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_selector(".scn-compare-side", timeout=60_000)
    text = page.locator("#scn-compare").inner_text()
    assert "Different hazards" in text and "Explosion" in text and "Toxic release" in text
    assert page.locator(".scn-compare-side .scn-legend").count() == 2
    assert "AEGL-3 lethal" in text and "Glass breakage" in text
    _choose(page, "scn-compare-b", page.locator("#scn-compare-a").input_value())
    page.wait_for_selector("#scn-compare-table", timeout=60_000)  # the same run twice: no change
    assert "same class" in page.locator(".scn-diff .scn-legend").inner_text()
    assert page.console_errors == []


def test_a_saved_run_is_offered_after_a_reload_starred_under_its_name(page, demo_app_url):
    _open(page, demo_app_url, "en")
    _choose(page, "scn-example", "Port warehouse explosion (450 t TNT)")
    page.wait_for_timeout(500)
    page.click("#scn-run")
    page.wait_for_function("document.querySelector('#scn-legend').innerText"
                           ".includes('Blast overpressure')", timeout=90_000)
    page.get_by_role("tab", name="Export").click()
    page.fill("#scn-save-name", "Port blast baseline")
    page.click("#scn-save")
    page.get_by_text('Saved as "Port blast baseline"').wait_for(timeout=30_000)
    _open(page, demo_app_url, "en")  # a new page load: the saved run comes from the server
    page.get_by_role("tab", name="Compare").click()
    page.click("#scn-compare-a")
    page.get_by_role("option", name=re.compile(r"^★ Port blast baseline · ")).wait_for(
        timeout=30_000)
    assert page.console_errors == []


def test_language_switch_changes_the_scenario_labels(page, demo_app_url):
    _open(page, demo_app_url, "zh")
    assert page.locator("#scn-run").inner_text() == "运行推演"
    assert page.locator("#scn-kind").input_value() == "有毒气体泄漏"
    page.click("#lang-switch")
    page.wait_for_url("**lang=en")
    page.wait_for_function("document.querySelector('#scn-run')?.innerText === 'Run'")
    assert page.locator("#scn-kind").input_value() == "Toxic release"
    assert "Release rate (g/s)" in page.locator(".scn-form").inner_text()
