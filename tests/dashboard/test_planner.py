"""The planner's legend and comparison of two runs (dashboard.planner), on real sim results."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import planner
from dashboard import scenario_view as sv
from sim import run

TANGGU = {"lat": 39.025, "lng": 117.655}


@pytest.fixture(scope="module")
def chlorine(demo_twin):
    return run(sv.examples()["chlorine-nangang"], demo_twin)


def _explosion(twin, tnt_kg: float):
    defaults = {f.key: f.default for f in sv.fields("explosion")}
    return run(sv.form_to_scenario("explosion", {**defaults, "parameters.tnt_kg": tnt_kg},
                                   TANGGU), twin)


@pytest.fixture(scope="module")
def blasts(demo_twin):
    return _explosion(demo_twin, 2000.0), _explosion(demo_twin, 20000.0)


def test_the_toxic_legend_names_the_aegl_levels_with_their_ppm(chlorine):
    zh, en = planner.legend(chlorine, "zh"), planner.legend(chlorine, "en")
    assert en["title"] == "Concentration (ppm)" and zh["title"] == "浓度 (ppm)"
    names = [c["name"] for c in en["classes"]]
    assert names[:1] == ["AEGL-1 discomfort"] and "AEGL-3 lethal" in names
    assert all(c["value"].startswith("≥ ") and c["value"].endswith(" ppm") for c in en["classes"])
    assert zh["classes"][-1]["name"] == "AEGL-3 致命"
    assert len(en["ramp"]) == 6 and en["classes"][-1]["rgb"] == en["ramp"][-1]  # top = worst


def test_the_blast_legend_gives_overpressure_classes_in_kpa(blasts):
    legend = planner.legend(blasts[0], "en")
    assert legend["title"] == "Blast overpressure (kPa)"
    assert legend["classes"][0]["name"].startswith("Glass breakage")
    shown = [c["name"] + c["value"] for c in legend["classes"]]
    assert all(text.count("≥") == 1 and text.endswith("kPa") for text in shown)  # said once
    values = [float(text.split("≥")[1].split()[0]) for text in shown]
    assert values == sorted(values)


def test_a_bigger_blast_is_worse_nowhere_milder_and_the_change_map_frames_both(blasts,
                                                                              demo_twin):
    small, big = blasts
    assert planner.comparable(small, big)
    cells, change = planner.severity_change(small, big)
    assert (change >= 0).all() and (change > 0).any()
    assert set(np.flatnonzero(big.ds["severity"].values > 0)) <= set(cells)
    records = planner.difference_records(small, big, demo_twin)
    assert records and all(r["c"][:3] in (planner.WORSE[:3], planner.SAME[:3]) for r in records)
    reverse = planner.difference_records(big, small, demo_twin)
    assert any(r["c"][:3] == planner.BETTER[:3] and r["v"] < 0 for r in reverse)
    spec = planner.difference_map(small, big, demo_twin)
    assert [layer["id"] for layer in spec["layers"][1:]] == [
        "scenario-diff", "scenario-source", "scenario-source-b"]


def test_runs_of_different_hazards_are_set_side_by_side_with_their_own_impacts(chlorine,
                                                                              blasts):
    assert not planner.comparable(chlorine, blasts[0])
    a, b = planner.side(chlorine, "en"), planner.side(blasts[0], "en")
    assert a["hazard"] == "Toxic release" and b["hazard"] == "Explosion"
    assert a["headline"][0][0] == b["headline"][0][0] == sv.headline(chlorine.impact, "en")[0][0]
    assert planner.side(chlorine, "zh")["hazard"] == "有毒气体泄漏"


def test_the_change_legend_reads_in_both_languages():
    assert [c["name"] for c in planner.difference_legend("en")["classes"]] == [
        "worse in B", "milder in B", "same class"]
    assert planner.difference_legend("zh")["title"] == "B 相对 A 的危险等级变化"
