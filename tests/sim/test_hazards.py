"""Specification of sim.hazards: the registry every hazard declares itself in."""

import numpy as np
import pytest
import xarray as xr

from sim import HAZARDS, Scenario, ScenarioError, hazards, run
from sim.hazards.base import Classes, Form, Hazard, Legend, Level, Outcome, timing
from sim.scenario import Strict


def test_the_registry_holds_the_five_hazards_in_display_order():
    assert HAZARDS == ("flood", "toxic_release", "explosion", "epidemic", "evacuation")
    assert hazards.names() == HAZARDS


def test_an_unknown_hazard_names_the_known_ones():
    with pytest.raises(ScenarioError, match="unknown hazard 'meteor'.*flood"):
        hazards.get("meteor")


def test_numbered_labels_are_derived_from_the_thresholds():
    classes = Classes((Level("wet", 0.2, "湿", "Wet"), Level("deep", 2.0, "深", "Deep")), unit="m")
    assert classes.labels() == ["wet>=0.2m", "deep>=2m"]
    assert classes.name("deep>=2m", "en") == "Deep ≥2 m"
    assert classes.name("wet>=0.2m", "zh") == "湿 ≥0.2 m"


def test_shares_are_labelled_in_percent_without_a_space():
    classes = Classes((Level("attack", 0.1, "罹患率", "Attack"),), unit="%", scale=100.0)
    assert classes.labels() == ["attack>=10%"] and classes.name("attack>=10%", "en") == "Attack ≥10%"


@pytest.mark.parametrize("name", HAZARDS)
def test_every_numbered_label_carries_its_own_threshold(name):
    classes = hazards.get(name).classes
    for level, label in zip(classes.levels, classes.labels(), strict=True):
        if level.threshold is not None and classes.numbered:
            assert label.endswith(f"{level.threshold * classes.scale:g}{classes.unit}")


def test_the_flood_labels_are_the_depth_classes():
    assert hazards.get("flood").classes.labels() == ["ponding>=0.15m", "deep>=0.5m",
                                                     "dangerous>=1.5m"]


@pytest.mark.parametrize("name", HAZARDS)
def test_every_class_has_a_name_in_both_languages(name):
    classes = hazards.get(name).classes
    for label in classes.labels():
        zh, en = classes.name(label, "zh"), classes.name(label, "en")
        assert zh and en and zh != label


def test_classify_cuts_at_the_thresholds_inclusive():
    classes = hazards.get("flood").classes
    np.testing.assert_array_equal(classes.classify([0.0, 0.15, 0.49, 0.5, 2.0]), [0, 1, 1, 2, 3])


def test_a_flood_with_a_tide_shows_in_the_storm_tide_form():
    flood = hazards.get("flood")
    assert flood.form_of(flood.params(storm_tide_m=3.0)) == "storm_tide"
    assert flood.form_of(flood.params(rain_mm_h=30.0)) == "rainstorm"


class _Flat(Strict):
    value: float = 1.0


def _flat_runner(sc, twin, place, live, progress):
    values = np.full(len(twin), sc.params.value)
    ds = xr.Dataset({"v": (("time", "cell"), values[None, :])}, coords={"time": [0.0]})
    return Outcome(ds, (values >= 1).astype(np.int8), np.zeros(len(twin), bool))


def test_a_hazard_added_to_the_registry_runs_without_touching_the_runner(small, monkeypatch):
    entry = Hazard(name="flat", zh="平", en="Flat", params=_Flat, runner=_flat_runner,
                   classes=Classes((Level("on", 1.0, "开", "On"),)), peak_variable="v",
                   legend=Legend("v", "1"), needs_location=False,
                   forms=(Form("flat", "平", "Flat", timing(1, 1, "s", "s")),))
    monkeypatch.setitem(hazards._registry(), "flat", entry)
    result = run(Scenario.parse({"name": "f", "hazard": "flat", "duration": 1,
                                 "output_every": 1}), small)
    assert result.impact["severity_labels"] == ["on>=1"]
    assert result.impact["people_affected"] == pytest.approx(small.ds["population"].sum())
    assert hazards.get("flat").peak(result).values.shape == (len(small),)
