"""The dashboard in a real headless Chromium, served against the Binhai demo twin."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytestmark = pytest.mark.browser


def _canvas_pixels(page) -> np.ndarray:
    from PIL import Image

    png = page.locator("#command-map-box canvas").first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _wait_for_hexagons(page, timeout_s: float = 20.0) -> np.ndarray:
    """Pixels of the map once coloured hexagons (yellow/red ramp) appear on the canvas."""
    for _ in range(int(timeout_s * 2)):
        pixels = _canvas_pixels(page)
        warm = (pixels[..., 0] > 180) & (pixels[..., 1] > 120) & (pixels[..., 2] < 120)
        if warm.mean() > 0.002:
            return pixels
        page.wait_for_timeout(500)
    raise AssertionError("no hexagons appeared on the map canvas")


def test_command_page_renders_without_console_errors(page, demo_app_url):
    page.goto(demo_app_url + "/")
    page.wait_for_selector("#command-map-box canvas", timeout=30_000)
    page.wait_for_timeout(2000)
    assert page.console_errors == []


def test_map_canvas_shows_population_hexagons(page, demo_app_url):
    page.goto(demo_app_url + "/")
    page.wait_for_selector("#command-map-box canvas", timeout=30_000)
    pixels = _wait_for_hexagons(page)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # a ramp, not a flat fill


def test_language_switch_changes_the_labels(page, demo_app_url):
    page.goto(demo_app_url + "/")
    assert page.locator("#app-title").inner_text() == "滨海新区城市运行数字孪生"
    page.click("#lang-switch")
    page.wait_for_url("**lang=en")
    page.wait_for_function("document.querySelector('#app-title').innerText === 'Binhai CityOps Twin'")
    assert "Residents" in page.locator(".kpis").inner_text()


def test_grid_page_shows_the_chosen_grid_card(page, demo_app_url, demo_twin):
    grid = int(demo_twin.grids["grid"].iloc[5])
    page.goto(f"{demo_app_url}/grid?lang=en&grid={grid}")
    page.wait_for_selector("#card-card_residents", timeout=30_000)
    expected = demo_twin.ds["population"].values[demo_twin.ds["grid"].values == grid].sum()
    assert page.locator("#card-card_residents").inner_text() == f"{expected:,.0f}"
    page.wait_for_timeout(1500)
    assert page.console_errors == []
