"""WGS-84 / GCJ-02 / BD-09 conversions.

Reference values: the unit tests of the gcoord project (hujiulong/gcoord, test/unit/crs/*.spec.js),
which check the point (lng 123, lat 45) to 5 decimal places; we check to the same tolerance.
"""

import numpy as np
import pytest

from twin import crs

TOL = 5e-6  # "toBeCloseTo(x, 5)"

# (function, input lat/lng, expected lat/lng) from gcoord's tests
VECTORS = [
    (crs.wgs84_to_gcj02, (45.0, 123.0), (45.00197815, 123.00607541)),
    (crs.gcj02_to_wgs84, (45.0, 123.0), (44.99804071, 122.99395597)),
    (crs.gcj02_to_bd09, (45.0, 123.0), (45.00636899, 123.00636499)),
    (crs.bd09_to_gcj02, (45.0, 123.0), (44.99365430, 122.99363304)),
    (crs.wgs84_to_bd09, (45.0, 123.0), (45.0083293, 123.0124491)),
    (crs.bd09_to_wgs84, (45.0, 123.0), (44.99171540, 122.98762210)),
]


@pytest.mark.parametrize("func, point, expected", VECTORS, ids=[v[0].__name__ for v in VECTORS])
def test_conversion_matches_published_vector(func, point, expected):
    lat, lng = func(*point)
    assert abs(lat - expected[0]) < TOL and abs(lng - expected[1]) < TOL


def test_points_outside_china_are_not_offset():
    lat, lng = crs.wgs84_to_gcj02(45.0, 183.0)
    assert (lat, lng) == (45.0, 183.0)


def test_gcj02_inverse_round_trips_to_submillimetre():
    rng = np.random.default_rng(1)
    lat, lng = rng.uniform(20, 50, 10_000), rng.uniform(80, 130, 10_000)
    back_lat, back_lng = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lat, lng))
    assert np.abs(back_lat - lat).max() < 1e-8 and np.abs(back_lng - lng).max() < 1e-8


def test_bd09_inverse_round_trips_to_submillimetre():
    rng = np.random.default_rng(2)
    lat, lng = rng.uniform(20, 50, 10_000), rng.uniform(80, 130, 10_000)
    back_lat, back_lng = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lat, lng))
    assert np.abs(back_lat - lat).max() < 1e-8 and np.abs(back_lng - lng).max() < 1e-8


def test_offset_in_tianjin_is_a_few_hundred_metres():
    lat, lng = crs.wgs84_to_gcj02(39.0, 117.7)
    metres = np.hypot((lat - 39.0) * 110_574, (lng - 117.7) * 111_320 * np.cos(np.radians(39)))
    assert 100 < metres < 1000


def test_unknown_crs_names_the_choices():
    with pytest.raises(ValueError, match="wgs84, gcj02, bd09"):
        crs.to_wgs84(39.0, 117.0, "epsg3857")
