"""The simulation's refusals on the Scenarios page speak the page's language."""

from __future__ import annotations

import re

import pytest

from dashboard import scenario_view as sv
from dashboard.sim_messages import error_text
from sim import ScenarioError
from sim.runner import locate

ENGLISH = re.compile(r"\b(Input|should|must|exceed|use|is|not|the|twin|choose|shelter)\b")


def _refusals(kind: str, lang: str) -> list[str]:
    """Every refusal the form gives for one field set far below, then far above, its range."""
    fields = [f for f in sv.fields(kind) if not f.options]
    base = {f.key: f.default for f in sv.fields(kind)}
    out = []
    for f in fields:
        for bad in (-1e9, 1e12):
            try:
                sv.form_to_scenario(kind, {**base, f.key: bad}, {"lat": 39.0, "lng": 117.7},
                                    "", None, lang)
            except ScenarioError as exc:
                out.append(str(exc))
    return out


@pytest.mark.parametrize("kind", list(sv.FORMS))
def test_every_form_refusal_is_chinese_in_the_chinese_page(kind):
    refusals = _refusals(kind, "zh")
    assert refusals, kind  # the walk did reach the validators
    assert [r for r in refusals if ENGLISH.search(r)] == []


def test_the_english_page_keeps_the_models_own_words():
    assert any("should be greater than" in r for r in _refusals("toxic_release", "en"))


def test_a_point_outside_the_twin_is_refused_in_chinese(small):
    from sim import Scenario

    scenario = Scenario.parse({"name": "x", "hazard": "explosion", "duration": "10s", "output_every": "10s",
                               "location": {"lat": 10.0, "lng": 10.0},
                               "parameters": {"tnt_kg": 100}})
    with pytest.raises(ScenarioError) as caught:
        locate(scenario, small)
    text = error_text(str(caught.value), "zh")
    assert text.startswith("位置 (10.00000, 10.00000) 不在本孪生城市") and not ENGLISH.search(text)


def test_an_unknown_sentence_is_shown_as_written():
    assert error_text("something new went wrong", "zh") == "something new went wrong"
