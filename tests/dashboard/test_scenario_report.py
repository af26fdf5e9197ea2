"""The printable one-page report of a scenario run: map framed on the footprint, classes,
impacts and inputs in the UI language; served only to who may open the Scenarios page."""

from __future__ import annotations

import re

import pytest

from dashboard import scenario_report as rep
from dashboard import scenario_view as sv
from sim import run


@pytest.fixture(scope="module")
def chlorine(demo_twin):
    return run(sv.examples()["chlorine-nangang"], demo_twin)


def test_the_report_has_map_classes_impacts_and_inputs_in_english(chlorine, demo_twin):
    page = rep.report_html(chlorine, demo_twin, "abc123def456", "en", "2026-12-01 09:30 CST")
    assert '<html lang="en">' in page and "Scenario report: Nangang chlorine release" in page
    assert "What-if result, not live data" in page and "2026-12-01 09:30 CST" in page
    assert "<svg" in page and page.count('fill-opacity="0.85"') >= 10  # hazard cells drawn
    assert "AEGL-3 lethal ≥" in page and "ppm" in page
    assert "People affected" in page and "Toxic release" in page
    assert "@page { size: A4 landscape" in page and "window.print()" in page
    assert not re.search(r"[\u4e00-\u9fff]", page.split("<svg")[0].split("<title>")[1])


def test_the_report_reads_in_chinese(chlorine, demo_twin):
    page = rep.report_html(chlorine, demo_twin, "abc123def456", "zh")
    assert '<html lang="zh-CN">' in page
    assert "推演报告: 南港氯气泄漏" in page and "有毒气体泄漏" in page and "AEGL-3 致命" in page


def test_the_map_frames_the_footprint_with_a_margin(chlorine, demo_twin):
    import numpy as np

    severity = chlorine.ds["severity"].values
    lat, lng = demo_twin.centers
    hit = np.flatnonzero(severity > 0)
    lng0, lat1, scale, kx = rep.frame(lat[hit], lng[hit])
    x = (lng[hit] - lng0) * kx * scale
    y = (lat1 - lat[hit]) * scale
    assert x.min() > 0.05 * rep.WIDTH and x.max() < 0.95 * rep.WIDTH
    assert y.min() > 0.05 * rep.HEIGHT and y.max() < 0.95 * rep.HEIGHT
    assert max(x.max() - x.min(), (y.max() - y.min()) * rep.WIDTH / rep.HEIGHT) \
        > 0.6 * rep.WIDTH  # and fills it


def test_the_report_route_follows_the_scenarios_page_roles(chlorine, demo_twin, tmp_path,
                                                          monkeypatch):
    from dashboard.app import create_app
    from dashboard.results import ResultStore
    from tests.dashboard.browser import DEMO_PASSWORDS

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    run_id = ResultStore().put(chlorine)
    app = create_app(demo_twin)

    def get(user, path):
        client = app.server.test_client()
        if user:
            client.post("/login", data={"username": user, "password": DEMO_PASSWORDS[user]})
        return client.get(path)

    reply = get("planner", f"/scenarios/{run_id}/report?lang=en")
    assert reply.status_code == 200 and b"Scenario report" in reply.data
    assert reply.headers["Content-Type"].startswith("text/html")
    assert get("commander", f"/scenarios/{run_id}/report").status_code == 200
    assert get("grid_a", f"/scenarios/{run_id}/report").status_code == 403
    assert get(None, f"/scenarios/{run_id}/report").status_code == 302
    assert get("planner", "/scenarios/0123456789ab/report").status_code == 404
    assert get("planner", "/scenarios/nothex/report").status_code == 404
    assert b"Scenario report" not in get("planner", "/scenarios/..%2Fx/report?lang=en").data


@pytest.mark.browser
def test_the_report_prints_on_one_a4_page(chlorine, demo_twin, chromium, tmp_path):
    page_file = tmp_path / "report.html"
    page_file.write_text(rep.report_html(chlorine, demo_twin, "abc123def456", "zh",
                                         "2026-12-01 09:30 CST"), encoding="utf-8")
    page = chromium.new_page()
    page.goto(page_file.as_uri())
    pdf = page.pdf(landscape=True, format="A4")
    page.close()
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
