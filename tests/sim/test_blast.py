"""Specification of sim.blast: Kingery-Bulmash surface burst and Hopkinson-Cranz scaling."""

import numpy as np
import pytest

from sim import blast


@pytest.mark.parametrize("z, kpa", [(1.0, 1350.0), (3.97, 65.5), (10.0, 15.0)])
def test_overpressure_matches_kingery_bulmash_surface_burst(z, kpa):
    # chart values for a hemispherical TNT surface burst (UFC 3-340-02 fig. 2-15: 9.5 psi at
    # 10 ft/lb^(1/3) = 3.97 m/kg^(1/3)), 1 kg at Z metres
    assert blast.overpressure_kpa(1.0, z) == pytest.approx(kpa, rel=0.10)


def test_hopkinson_cranz_scaling_eight_times_the_charge_at_twice_the_distance():
    np.testing.assert_allclose(blast.overpressure_kpa(8000.0, [20.0, 200.0]),
                               blast.overpressure_kpa(1000.0, [10.0, 100.0]))


@pytest.mark.parametrize("z", [2.9, 23.8])
def test_the_fitted_ranges_join_continuously(z):
    below, above = blast.overpressure_kpa(1.0, [z * 0.9999, z * 1.0001])
    assert below == pytest.approx(above, rel=0.01)


def test_overpressure_falls_monotonically_with_distance_and_is_vectorised():
    p = blast.overpressure_kpa(450_000.0, np.geomspace(20, 20_000, 200))
    assert p.shape == (200,) and (np.diff(p) < 0).all()


def test_zones_follow_the_cited_thresholds():
    np.testing.assert_array_equal(blast.zone_level([0.5, 1.0, 5.0, 40.0, 100.0]),
                                  [0, 1, 2, 5, 6])


def test_zone_radius_inverts_the_curve():
    r = blast.zone_radius_m(450_000.0, 6.9)
    assert blast.overpressure_kpa(450_000.0, r) == pytest.approx(6.9, rel=1e-6)


def test_a_non_positive_charge_names_the_input():
    with pytest.raises(ValueError, match="tnt_kg"):
        blast.overpressure_kpa(0.0, 10.0)


def test_minor_house_damage_starts_at_clanceys_0_7_psi():
    zone = {z.key: z for z in blast.ZONES}["minor_damage"]
    assert zone.psi == 0.7 and zone.kpa == 4.8


def test_lung_damage_is_its_own_zone_above_total_destruction_at_15_psi():
    keys = [z.key for z in blast.ZONES]
    assert keys[-2:] == ["total_destruction", "lung_damage"]
    assert blast.ZONES[-1].kpa == pytest.approx(15 * 6.894757, abs=0.05)
    assert "lung" not in blast.ZONES[-2].description


def test_every_zone_cites_its_source():
    assert all(z.source for z in blast.ZONES)
