"""Specification of sim.weather: the wind and stability at a point from live station readings."""

import datetime as dt

import numpy as np
import pytest

from sim import weather

BINHAI = (39.0, 117.7)
NOON = dt.datetime(2026, 6, 21, 4, 0, tzinfo=dt.UTC)  # 12:00 Beijing time, midsummer
MIDNIGHT = dt.datetime(2026, 6, 21, 16, 0, tzinfo=dt.UTC)


def _stations(when: dt.datetime, **over) -> dict:
    base = {"lat": [39.0, 39.3], "lng": [117.7, 117.4], "wind_speed_m_s": [1.5, 8.0],
            "wind_from_deg": [120.0, 300.0], "cloud_tenths": [2.0, 9.0],
            "as_of": when.timestamp()}
    return {**base, **over}


def test_the_nearest_station_with_wind_gives_the_wind():
    found = weather.at_point(_stations(NOON), 39.01, 117.71)
    assert (found.wind_from_deg, found.wind_speed_m_s) == (120.0, 1.5)
    assert found.distance_m == pytest.approx(1400, rel=0.1)


def test_a_station_without_a_wind_reading_is_passed_over():
    found = weather.at_point(_stations(NOON, wind_speed_m_s=[np.nan, 8.0]), *BINHAI)
    assert found.wind_speed_m_s == 8.0 and found.station_lat == 39.3


def test_no_station_with_wind_gives_nothing():
    assert weather.at_point(_stations(NOON, wind_from_deg=[np.nan, np.nan]), *BINHAI) is None


def test_light_wind_under_a_high_summer_sun_is_very_unstable_by_turners_method():
    found = weather.at_point(_stations(NOON), *BINHAI)
    assert (found.stability, found.method) == ("A", "turner")  # altitude ~74 deg, 2/10 cloud


def test_light_wind_on_a_clear_night_is_very_stable():
    assert weather.at_point(_stations(MIDNIGHT), *BINHAI).stability == "F"


def test_the_hour_before_sunset_counts_as_night():
    # Binhai's midsummer sunset is near 19:40 Beijing time (11:40 UTC); 19:00 is within the hour
    assert weather.is_night(*BINHAI, dt.datetime(2026, 6, 21, 11, 0, tzinfo=dt.UTC))
    assert not weather.is_night(*BINHAI, dt.datetime(2026, 6, 21, 9, 0, tzinfo=dt.UTC))


def test_without_a_cloud_reading_the_class_is_neutral_and_says_why():
    found = weather.at_point(_stations(NOON, cloud_tenths=[np.nan, np.nan]), *BINHAI)
    assert found.stability == "D" and "no cloud" in found.method


def test_the_record_says_where_and_when_the_readings_were_taken():
    record = weather.at_point(_stations(NOON), *BINHAI).record()
    assert record["as_of"] == NOON.timestamp()
    assert (record["station_lat"], record["station_lng"]) == (39.0, 117.7)


def test_stations_missing_a_field_are_refused_naming_it():
    bad = _stations(NOON)
    del bad["cloud_tenths"]
    with pytest.raises(ValueError, match="cloud_tenths"):
        weather.at_point(bad, *BINHAI)
