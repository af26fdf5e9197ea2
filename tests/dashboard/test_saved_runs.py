"""Saved runs: a planner keeps a run under a name past the last few, in either result store."""

from __future__ import annotations

import pytest

from dashboard import results
from dashboard import scenario_view as sv
from sim import run

TANGGU = {"lat": 39.02, "lng": 117.65}


@pytest.fixture(scope="module")
def blast(demo_twin):
    form = {f.key: f.default for f in sv.fields("explosion")}
    return run(sv.form_to_scenario("explosion", {**form, "duration": 1, "output_every": 1}, TANGGU), demo_twin)


@pytest.fixture(params=["folder", "redis"])
def runs(request, tmp_path):
    """A store keeping the last 2 unsaved runs: in a folder, or in Redis."""
    if request.param == "folder":
        return results.ResultStore(tmp_path, keep=2)
    return results.RedisResults(request.getfixturevalue("bus"), keep=2)


def test_a_stored_run_says_what_it_is(runs, blast):
    run_id = runs.put(blast)
    (info,) = runs.runs()
    assert (info.id, info.name, info.hazard) == (run_id, blast.scenario.name, "explosion")
    assert info.ran_at == pytest.approx(runs.ran_at(run_id)) and not info.saved_as


def test_a_saved_run_outlives_the_last_few(runs, blast):
    kept = runs.put(blast)
    runs.save(kept, "  港区爆炸 基准  ", by="规划员 张伟")
    later = [runs.put(blast) for _ in range(3)]
    assert set(runs.ids()) == {kept, *later[-2:]}
    first = runs.runs()[0]
    assert (first.id, first.saved_as, first.saved_by) == (kept, "港区爆炸 基准", "规划员 张伟")
    assert runs.get(kept).scenario == blast.scenario


def test_a_run_saved_without_a_name_keeps_the_scenarios(runs, blast):
    run_id = runs.put(blast)
    assert runs.save(run_id, "", by="p").saved_as == blast.scenario.name


def test_a_run_taken_off_the_saved_list_is_dropped_with_the_old_ones(runs, blast):
    kept = runs.put(blast)
    runs.save(kept, "x", by="p")
    runs.unsave(kept)
    for _ in range(2):
        runs.put(blast)
    assert kept not in runs.ids()


def test_saving_past_the_limit_is_refused_with_the_fix(runs, blast, monkeypatch):
    monkeypatch.setattr(results, "SAVED_MAX", 1)
    first, second = runs.put(blast), runs.put(blast)
    runs.save(first, "a", by="p")
    with pytest.raises(results.RunsFull, match="remove one"):
        runs.save(second, "b", by="p")
    runs.save(first, "a again", by="p")  # renaming a saved run is not one more


def test_saving_a_run_that_is_gone_names_it(runs):
    with pytest.raises(KeyError, match="no longer stored"):
        runs.save("0" * 12, "x", by="p")
