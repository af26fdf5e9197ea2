"""Specification of sim.ensemble: members on dask, exceedance probabilities per cell."""

import numpy as np
import pytest

from sim import Scenario, ScenarioError, ensemble

BLAST = {"name": "b", "hazard": "explosion", "location": {"lat": 39.0, "lng": 117.69},
         "parameters": {"tnt_kg": 1000}, "duration": 60, "output_every": 60}


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def test_members_are_stacked_with_their_parameter_values(small, client):
    ds = ensemble.run(Scenario.parse(BLAST), small, {"tnt_kg": {"uniform": [1e3, 1e6]}},
                      members=3, client=client, seed=1)
    assert ds["peak"].dims == ("member", "cell") and ds.sizes["member"] == 3
    np.testing.assert_allclose(ds["tnt_kg"].values, ensemble.sample(
        {"tnt_kg": {"uniform": [1e3, 1e6]}}, 3, seed=1)["tnt_kg"])
    np.testing.assert_array_equal(ds["cell_ids"].values, small.cell_ids)


def test_exceedance_is_the_share_of_members_above_each_threshold(small, client):
    ds = ensemble.run(Scenario.parse(BLAST), small, {"tnt_kg": {"choice": [1e3, 1e6]}},
                      members=4, client=client, seed=3)
    manual = (ds["peak"].values[:, None, :] > ds["threshold"].values[None, :, None]).mean(0)
    np.testing.assert_allclose(ds["exceedance"].values, manual)
    assert set(np.unique(ds["exceedance"].values)) <= {0, 0.25, 0.5, 0.75, 1.0}


def test_a_member_equal_to_the_base_scenario_reproduces_sim_run(small, client):
    from sim import run
    from sim.runner import peak_field

    ds = ensemble.run(Scenario.parse(BLAST), small, {"tnt_kg": {"choice": [1000]}},
                      members=2, client=client)
    _, peak, _, _ = peak_field(run(Scenario.parse(BLAST), small))
    np.testing.assert_allclose(ds["peak"].values[0], peak, rtol=1e-6)


def test_sampling_is_reproducible_for_a_seed():
    vary = {"a": {"normal": [0, 1]}, "b": {"triangular": [0, 1, 3]}}
    first, again = ensemble.sample(vary, 5, seed=7), ensemble.sample(vary, 5, seed=7)
    np.testing.assert_array_equal(first["a"], again["a"])


@pytest.mark.parametrize("vary, message", [({"x": {"gamma": [1]}}, "unknown distribution"),
                                           ({"x": [1, 2]}, "must be one of")])
def test_bad_distributions_name_the_parameter(vary, message):
    with pytest.raises(ScenarioError, match=message):
        ensemble.sample(vary, 2)


def test_an_unknown_parameter_fails_before_any_member_runs(small):
    with pytest.raises(ValueError, match="parameters.yield"):
        ensemble.run(Scenario.parse(BLAST), small, {"yield": {"uniform": [1, 2]}}, members=2)
