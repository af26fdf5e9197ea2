"""The shipped example scenarios run on the Binhai demo twin (shortened to keep the suite fast)."""

from pathlib import Path

import pytest

from sim import Scenario, run

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
SHORT = {"flood": "1h", "epidemic": "20d", "evacuation": "2h"}


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_example_runs_on_the_demo_twin_and_reports_an_impact(demo_twin, path):
    scenario = Scenario.load(path)
    if scenario.hazard in SHORT:
        scenario = scenario.with_values({"duration": SHORT[scenario.hazard]})
    result = run(scenario, demo_twin)
    assert result.ds.sizes["cell"] == len(demo_twin)
    assert {"people_by_severity", "facilities", "units", "roads_cut"} <= set(result.impact)
    if scenario.hazard in ("toxic_release", "explosion", "evacuation"):
        assert result.impact["people_affected"] > 0
    if scenario.hazard == "flood":
        assert abs(result.impact["mass_balance"]["volume_error_relative"]) < 1e-9
