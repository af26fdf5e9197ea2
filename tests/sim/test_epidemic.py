"""Specification of sim.epidemic: SEIR against the final-size relation and the growth rate."""

import numpy as np
import pytest

from sim import epidemic
from twin.testing import small_twin

ALONE = np.full((1, 6), -1)


def test_final_size_of_a_well_mixed_population_with_r0_2_is_0_7968():
    ds = epidemic.simulate([1e6], ALONE, r0=2.0, latent_days=3, infectious_days=5,
                           seed_infections=[10], days=300)
    assert epidemic.final_size(2.0) == pytest.approx(0.7968, abs=1e-4)
    assert float(ds["R"][-1, 0]) / 1e6 == pytest.approx(0.7968, abs=2e-3)


def test_early_growth_rate_matches_the_seir_characteristic_equation():
    ds = epidemic.simulate([1e9], ALONE, r0=2.5, latent_days=4, infectious_days=6,
                           seed_infections=[1], days=60)
    infected = (ds["E"] + ds["I"]).values[:, 0]
    slope = np.polyfit(np.arange(30, 50), np.log(infected[30:50]), 1)[0]
    assert slope == pytest.approx(epidemic.growth_rate(2.5, 4, 6), rel=0.01)


def test_people_are_conserved_in_every_cell():
    twin = small_twin()
    pop = twin.ds["population"].values
    ds = epidemic.simulate(pop, twin.neighbors, r0=3.0, latent_days=2, infectious_days=4,
                           mobility=0.3, seed_infections={int(np.argmax(pop)): 5}, days=60)
    total = (ds["S"] + ds["E"] + ds["I"] + ds["R"]).values
    np.testing.assert_allclose(total, np.broadcast_to(pop, total.shape), atol=1e-6)
    assert ds.attrs["people_conservation_error"] < 1e-6


def test_mobility_spreads_the_epidemic_to_neighbouring_cells_only_when_positive():
    nb = np.array([[1, -1], [0, -1]])
    kwargs = dict(r0=3.0, latent_days=2, infectious_days=4, seed_infections=[10, 0], days=80)
    isolated = epidemic.simulate([1e4, 1e4], nb, mobility=0.0, **kwargs)
    mixing = epidemic.simulate([1e4, 1e4], nb, mobility=0.2, **kwargs)
    assert float(isolated["R"][-1, 1]) == 0.0
    assert float(mixing["R"][-1, 1]) > 5e3


def test_contact_reduction_from_a_day_lowers_the_final_size_where_applied():
    kwargs = dict(r0=2.0, latent_days=3, infectious_days=5, seed_infections=[10], days=300)
    base = epidemic.simulate([1e6], ALONE, **kwargs)
    cut = epidemic.simulate([1e6], ALONE, interventions=[
        {"cells": [0], "from_day": 20, "contact_reduction": 0.6}], **kwargs)
    assert float(cut["R"][-1, 0]) < 0.5 * float(base["R"][-1, 0])


def test_bad_interventions_name_the_missing_field():
    with pytest.raises(ValueError, match="from_day"):
        epidemic.simulate([100.0], ALONE, r0=2, latent_days=1, infectious_days=1,
                          seed_infections=[1], days=2,
                          interventions=[{"cells": [0], "contact_reduction": 0.5}])
