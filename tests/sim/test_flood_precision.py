"""float32 runs compute in float32 and keep the hidden-case behaviour to float32 round-off."""

import numpy as np
import pytest

from sim import flood, flood_numeric, mesh
from tests.sim.test_flood_stability import CREST_M, POND_M, sill_case
from twin.testing import small_twin


def test_the_float32_cube_root_is_within_two_ulp_over_the_depths_a_flood_sees():
    import numba

    @numba.njit
    def roots(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = flood_numeric.cbrt(x[i])
        return out

    x = np.geomspace(1e-9, 1e4, 20_001)
    for dtype, tol in ((np.float32, 2.5e-7), (np.float64, 1e-14)):
        got = roots(x.astype(dtype))
        assert got.dtype == dtype
        exact = np.cbrt(x.astype(dtype).astype(np.float64))
        assert np.max(np.abs(got / exact - 1)) < tol


def test_float32_conserves_volume_to_its_round_off():
    m = mesh.from_twin(small_twin())
    depth0 = np.random.default_rng(1).uniform(0, 2, len(m))
    ds = flood.simulate(m, duration_s=1800, output_every_s=600, depth0_m=depth0, rain_mm_h=30.0,
                        dtype="float32")
    assert ds.attrs["dtype"] == "float32"
    assert abs(ds.attrs["volume_error_relative"]) < 1e-5
    assert (ds["depth_m"].values >= 0).all()


def test_a_lake_at_rest_stays_at_rest_in_float32():
    m = mesh.from_twin(small_twin())
    depth0 = np.maximum(0.5 - m.z_m, 0.0)
    ds = flood.simulate(m, duration_s=3600, output_every_s=1800, depth0_m=depth0, dtype="float32")
    np.testing.assert_allclose(ds["depth_m"].values[-1], depth0, atol=1e-5)


def test_the_sill_case_ends_at_the_crest_in_float32():
    basin, pond, attrs = sill_case(dtype="float32")
    assert basin[-1] == pytest.approx(CREST_M, abs=0.005)
    assert pond[-1] == pytest.approx(POND_M, abs=0.002)
    assert basin.min() >= CREST_M - 1e-3
    assert attrs["oscillation_warning"] == 0 and abs(attrs["volume_error_relative"]) < 1e-5
