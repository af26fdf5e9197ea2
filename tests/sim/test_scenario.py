"""Specification of sim.Scenario: validated specs whose errors name the field."""

from pathlib import Path

import pytest

from sim import Scenario, ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"

BLAST = {"name": "b", "hazard": "explosion", "location": {"lat": 39.0, "lng": 117.69},
         "parameters": {"tnt_kg": 1000}, "duration": "60s", "output_every": 60}


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_example_scenario_is_valid(path):
    scenario = Scenario.load(path)
    assert scenario.duration >= scenario.output_every > 0


def test_the_examples_cover_every_hazard():
    hazards = {Scenario.load(p).hazard for p in SCENARIOS.glob("*.yaml")}
    assert hazards == {"flood", "toxic_release", "explosion", "epidemic", "evacuation"}


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30min", 1800), ("6h", 21600),
                                           ("14d", 14 * 86400), (120, 120)])
def test_durations_accept_seconds_or_unit_strings(text, seconds):
    assert Scenario.parse(BLAST | {"duration": text, "output_every": 1}).duration == seconds


@pytest.mark.parametrize("change, field", [
    ({"parameters": {"tnt_kg": -5}}, "parameters.tnt_kg"),
    ({"parameters": {"tnt_kg": 5, "yield": 3}}, "parameters.yield"),
    ({"hazard": "meteor"}, "hazard"),
    ({"duration": "soon"}, "duration"),
    ({"location": {"lat": 39.0}}, "location"),
    ({"location": None}, "location"),
])
def test_an_invalid_spec_names_the_field(change, field):
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        Scenario.parse(BLAST | change)


def test_an_unknown_chemical_is_rejected_with_the_known_list():
    spec = {"name": "t", "hazard": "toxic_release", "location": {"lat": 39, "lng": 117.7},
            "duration": "1h", "output_every": "10min",
            "parameters": {"chemical": "kryptonite", "release_g_s": 1, "wind_from_deg": 0,
                           "wind_speed_m_s": 2}}
    with pytest.raises(ScenarioError, match="parameters.chemical.*chlorine"):
        Scenario.parse(spec)


def test_with_values_replaces_nested_parameters_and_revalidates():
    s = Scenario.parse(BLAST).with_values({"tnt_kg": 2000.0, "duration": 120})
    assert s.params.tnt_kg == 2000.0 and s.duration == 120
    with pytest.raises(ValueError):
        Scenario.parse(BLAST).with_values({"tnt_kg": -1})


def test_a_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path / "nope.yaml")


def test_a_zero_duration_is_refused_naming_the_field():
    with pytest.raises(ScenarioError, match="duration: durations must be positive"):
        Scenario.parse(BLAST | {"duration": "0h"})


@pytest.mark.parametrize("text", ["10m", "1.5 hours", "2days", "45 sec"])
def test_scenario_durations_are_read_by_the_one_shared_parser(text):
    from twin.durations import parse_duration

    parsed = Scenario.parse(BLAST | {"duration": text, "output_every": 1}).duration
    assert parsed == parse_duration(text)
