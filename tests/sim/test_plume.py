"""Specification of sim.plume: Gaussian plume against Turner's workbook and the AEGL tables."""

import numpy as np
import pytest

from sim import plume


def test_turner_workbook_ground_source_class_d_at_3_km():
    # Turner (1994): Q = 3 g/s, ground level, class D, u = 7 m/s, x = 3 km -> ~1.1e-5 g/m^3
    c = plume.ground_concentration(3.0, 7.0, 3000.0, stability="D", sigma="pg")
    assert c == pytest.approx(1.1e-5, rel=0.05)


def test_isc3_pg_sigmas_match_the_published_curves_at_1_km_class_d():
    sy, sz = plume.sigmas(1000.0, stability="D", sigma="pg")
    assert sy == pytest.approx(68.0, rel=0.02) and sz == pytest.approx(32.1, rel=0.02)


def test_briggs_rural_sigmas_follow_the_1973_formulas():
    sy, sz = plume.sigmas(3000.0, stability="D", terrain="rural")
    assert sy == pytest.approx(0.08 * 3000 / np.sqrt(1.3))
    assert sz == pytest.approx(0.06 * 3000 / np.sqrt(5.5))


def test_urban_terrain_spreads_more_than_rural_near_the_source():
    rural = plume.ground_concentration(10.0, 3.0, 500.0, stability="D", terrain="rural")
    urban = plume.ground_concentration(10.0, 3.0, 500.0, stability="D", terrain="urban")
    assert urban < rural


def test_concentration_is_vectorised_gaussian_across_wind_and_zero_upwind():
    x = np.array([1000.0, 1000.0, -500.0])
    y = np.array([0.0, 100.0, 0.0])
    c = plume.ground_concentration(1.0, 5.0, x, y, stability="C")
    sy, _ = plume.sigmas(1000.0, stability="C")
    assert c[1] / c[0] == pytest.approx(np.exp(-0.5 * (100.0 / sy) ** 2))
    assert c[2] == 0.0


def test_an_elevated_release_lowers_the_ground_concentration_nearby():
    ground = plume.ground_concentration(1.0, 5.0, 300.0, stability="D")
    stack = plume.ground_concentration(1.0, 5.0, 300.0, stability="D", release_height_m=30.0)
    _, sz = plume.sigmas(300.0, stability="D")
    assert stack / ground == pytest.approx(np.exp(-0.5 * (30.0 / sz) ** 2))


def test_unstable_air_dilutes_faster_than_stable_air_far_downwind():
    c = [plume.ground_concentration(1.0, 3.0, 5000.0, stability=s) for s in "ABCDEF"]
    assert all(np.diff(c) > 0)


def test_ppm_conversion_and_chlorine_aegl_zones():
    mw, aegl = plume.chemical("chlorine")
    assert plume.to_ppm(mw / 24.45 / 1000.0, mw) == pytest.approx(1.0)
    np.testing.assert_array_equal(aegl, [0.5, 2.0, 20.0])
    np.testing.assert_array_equal(plume.aegl_level([0.1, 0.5, 3.0, 25.0], "chlorine"),
                                  [0, 1, 2, 3])


def test_north_east_wind_carries_the_plume_south_west():
    x, y = plume.downwind_coordinates([38.99, 39.01], [117.69, 117.71], 39.0, 117.7, 45.0)
    assert x[0] > 0 > x[1]
    assert abs(y[0]) < 0.15 * x[0]  # about on the axis (a degree of longitude is shorter)


@pytest.mark.parametrize("kwargs, field", [({"stability": "G"}, "stability"),
                                           ({"stability": "D", "sigma": "pg",
                                             "terrain": "urban"}, "sigma"),
                                           ({"stability": "D", "terrain": "desert"}, "terrain")])
def test_bad_options_name_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=field):
        plume.ground_concentration(1.0, 3.0, 100.0, **kwargs)


def test_an_unknown_chemical_lists_the_known_ones():
    with pytest.raises(ValueError, match="chlorine"):
        plume.chemical("unobtainium")


def test_sulfur_dioxide_60_minute_aegls_are_the_nrc_volume_8_values():
    _, aegl = plume.chemical("sulfur_dioxide")
    np.testing.assert_array_equal(aegl, [0.20, 0.75, 27.0])


def test_every_chemical_names_the_volume_its_aegls_come_from():
    assert set(plume.AEGL_SOURCES) == set(plume.CHEMICALS)
