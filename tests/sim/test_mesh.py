"""Specification of sim.mesh: the cell/face geometry every solver shares."""

import numpy as np
import pytest

from sim import mesh
from twin.testing import small_twin


def test_raster_positions_are_row_major_with_four_neighbours():
    m = mesh.raster(np.arange(12.0).reshape(3, 4), 10.0)
    assert len(m) == 12 and m.neighbors.shape == (12, 4)
    row, col = 1, 2
    p = row * 4 + col
    assert m.z_m[p] == 6.0
    assert sorted(m.neighbors[p]) == sorted([p + 1, p - 1, p + 4, p - 4])


def test_raster_edges_are_closed_and_each_face_listed_once():
    m = mesh.raster(np.zeros((3, 4)), 5.0)
    a, b, w, d = m.faces
    assert len(a) == 3 * 3 + 2 * 4  # horizontal + vertical faces
    assert (a < b).all() and (w == 5.0).all() and (d == 5.0).all()
    assert (m.neighbors[0] >= 0).sum() == 2  # corner cell


def test_from_twin_faces_match_hexagon_geometry():
    twin = small_twin()
    m = mesh.from_twin(twin)
    assert len(m) == len(twin) and m.neighbors.shape == (len(twin), 6)
    a, b, w, d = m.faces
    # regular hexagons: centre distance = sqrt(3) * edge; H3 cells deviate by under 10 %
    np.testing.assert_allclose(d / w, np.sqrt(3.0), rtol=0.10)
    assert np.mean(d / w) == pytest.approx(np.sqrt(3.0), rel=0.02)
    np.testing.assert_allclose(m.z_m, twin.ds["elevation_m"].values)


def test_bad_raster_input_names_the_argument():
    with pytest.raises(ValueError, match="elevation_2d"):
        mesh.raster(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="dx_m"):
        mesh.raster(np.zeros((2, 2)), 0.0)


def test_subset_keeps_only_the_faces_between_kept_cells():
    m = mesh.raster(np.arange(9.0).reshape(3, 3), 10.0)
    sub = m.subset([0, 1, 3, 4])  # the top-left 2 x 2 block
    assert len(sub) == 4 and len(sub.faces[0]) == 4
    np.testing.assert_array_equal(sub.z_m, [0.0, 1.0, 3.0, 4.0])


def test_the_in_line_faces_of_a_raster_face_are_its_row_neighbours_oriented_the_same_way():
    m = mesh.raster(np.zeros((1, 4)), 1.0)  # faces (0,1), (1,2), (2,3)
    up, up_sign, down, down_sign = m.face_axes
    np.testing.assert_array_equal(up, [-1, 0, 1])
    np.testing.assert_array_equal(down, [1, 2, -1])
    assert (up_sign[1:] == 1).all() and (down_sign[:-1] == 1).all()


def test_most_hexagon_faces_have_an_opposite_face_in_both_cells():
    m = mesh.from_twin(small_twin())
    up, _, down, _ = m.face_axes
    assert (up >= 0).mean() > 0.85 and (down >= 0).mean() > 0.85
    norms = np.linalg.norm(m.face_normals, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-9)
