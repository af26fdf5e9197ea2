"""Specification of sim.stability: Turner's key and the SRDT key of EPA-454/R-99-005."""

import datetime as dt

import pytest

from sim import stability


def test_a_clear_calm_night_is_very_stable():
    assert stability.turner(1.0, night=True, cloud_tenths=2) == "F"  # index -2: G counts as F


def test_strong_sun_and_light_wind_is_very_unstable():
    assert stability.turner(1.5, night=False, cloud_tenths=3, solar_altitude_deg=65) == "A"


def test_low_overcast_is_neutral_by_day_and_by_night():
    for night in (True, False):
        assert stability.turner(1.0, night=night, cloud_tenths=10, ceiling_m=1000,
                                solar_altitude_deg=50) == "D"


def test_broken_cloud_below_16000_ft_lowers_the_insolation_class_by_one():
    # altitude 45 deg: class 3; 7/10 at 3000 m (9840 ft): index 2; 3 m/s (6 kt row): C
    assert stability.net_radiation_index(night=False, cloud_tenths=7, ceiling_m=3000,
                                         solar_altitude_deg=45) == 2
    assert stability.turner(3.0, night=False, cloud_tenths=7, ceiling_m=3000,
                            solar_altitude_deg=45) == "C"


def test_strong_wind_is_neutral_whatever_the_sky():
    assert stability.turner(8.0, night=True, cloud_tenths=0) == "D"
    assert stability.turner(8.0, night=False, cloud_tenths=0, solar_altitude_deg=70) == "C"


@pytest.mark.parametrize("altitude, insolation", [(10, 1), (15, 1), (20, 2), (35, 2), (50, 3),
                                                  (61, 4)])
def test_insolation_classes_follow_the_solar_altitude_bands(altitude, insolation):
    assert stability.insolation_class(altitude) == insolation


@pytest.mark.parametrize("wind, radiation, expected", [(1.0, 1000, "A"), (2.5, 800, "B"),
                                                       (4.0, 300, "C"), (5.5, 100, "D"),
                                                       (7.0, 950, "C")])
def test_srdt_by_day_reads_wind_and_solar_radiation(wind, radiation, expected):
    assert stability.srdt(wind, night=False, solar_w_m2=radiation) == expected


def test_srdt_by_night_reads_the_temperature_difference():
    assert stability.srdt(1.0, night=True, delta_t_k=1.5) == "F"
    assert stability.srdt(1.0, night=True, delta_t_k=-0.5) == "E"
    assert stability.srdt(3.0, night=True, delta_t_k=1.5) == "D"


def test_the_noon_sun_stands_at_90_minus_latitude_plus_declination():
    equinox_noon = dt.datetime(2023, 3, 20, 12, 7, tzinfo=dt.UTC)  # solar noon at 0 E
    assert stability.solar_altitude_deg(0.0, 0.0, equinox_noon) == pytest.approx(90.0, abs=1.0)
    solstice = dt.datetime(2023, 6, 21, 4, 0, tzinfo=dt.UTC)  # ~ solar noon at 117.7 E
    assert stability.solar_altitude_deg(39.0, 117.7, solstice) == pytest.approx(
        90 - 39.0 + 23.44, abs=1.0)


def test_bad_inputs_name_themselves():
    with pytest.raises(ValueError, match="cloud_tenths"):
        stability.turner(2.0, night=True, cloud_tenths=12)
    with pytest.raises(ValueError, match="solar_altitude_deg"):
        stability.turner(2.0, night=False, cloud_tenths=2)
    with pytest.raises(ValueError, match="timezone-aware"):
        stability.solar_altitude_deg(39.0, 117.7, dt.datetime(2023, 6, 21, 12))
