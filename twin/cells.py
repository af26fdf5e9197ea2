"""Vectorised H3 helpers on uint64 cell arrays: the one place that talks to h3/h3ronpy.

Everything here takes and returns numpy arrays of uint64 cells (never hex strings), so the rest of
the code never loops over cells in Python.
"""

from __future__ import annotations

import h3
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pyarrow as pa
import shapely

__all__ = ["points_to_cells", "fill_polygons", "neighbor_table", "cell_centers", "cell_areas_m2",
           "cell_polygons", "cell_vertices", "to_hex", "from_hex", "parents", "edge_length_m", "valid_latlng"]


def _np(arr) -> np.ndarray:
    """An arrow array from h3ronpy as a numpy array (nulls as 0)."""
    a = pa.array(arr)
    if a.null_count:
        a = a.fill_null(0)
    return a.to_numpy(zero_copy_only=False)


def valid_latlng(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """True where (lat, lng) is a finite WGS-84 coordinate pair."""
    return np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90.0) & (np.abs(lng) <= 180.0)


def points_to_cells(lat: np.ndarray, lng: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells (uint64) of points; 0 where the coordinate is not valid."""
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lng = np.ascontiguousarray(lng, dtype=np.float64)
    ok = valid_latlng(lat, lng)
    if ok.all():
        return _np(h3v.coordinates_to_cells(lat, lng, resolution)).astype(np.uint64, copy=False)
    out = np.zeros(lat.shape, dtype=np.uint64)
    if ok.any():
        out[ok] = _np(h3v.coordinates_to_cells(lat[ok], lng[ok], resolution))
    return out


def fill_polygons(geometry, resolution: int) -> np.ndarray:
    """Sorted unique cells whose centroid lies in the (multi)polygon geometry."""
    parts = [g for g in shapely.get_parts(geometry) if not g.is_empty]
    if not parts:
        return np.empty(0, dtype=np.uint64)
    wkb = pa.array(shapely.to_wkb(np.asarray(parts, dtype=object)), type=pa.binary())
    cells = h3v.wkb_to_cells(wkb, resolution, h3ronpy.ContainmentMode.ContainsCentroid,
                             flatten=True)
    return np.unique(_np(cells).astype(np.uint64))


def neighbor_table(cell_ids: np.ndarray) -> np.ndarray:
    """(N, 6) int32 positions of each cell's neighbours within sorted `cell_ids`, -1 where none."""
    n = len(cell_ids)
    if n == 0:
        return np.empty((0, 6), dtype=np.int32)
    disks = pa.array(h3ronpy.grid_disk(pa.array(cell_ids, type=pa.uint64()), 1))
    flat = disks.flatten().to_numpy(zero_copy_only=False).astype(np.uint64)
    lengths = np.diff(disks.offsets.to_numpy())
    owner = np.repeat(np.arange(n), lengths)
    keep = flat != np.repeat(cell_ids, lengths)
    flat, owner = flat[keep], owner[keep]
    pos = np.searchsorted(cell_ids, flat)
    pos = np.clip(pos, 0, n - 1)
    inside = cell_ids[pos] == flat
    slot = _slot_in_row(owner)
    table = np.full((n, 6), -1, dtype=np.int32)
    ok = inside & (slot < 6)
    table[owner[ok], slot[ok]] = pos[ok]
    return table


def _slot_in_row(owner: np.ndarray) -> np.ndarray:
    """For a sorted array of row ids, the index of each element within its row."""
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    counts = np.diff(np.r_[starts, len(owner)])
    return np.arange(len(owner)) - np.repeat(starts, counts)


def cell_centers(cell_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lng) in degrees of each cell's centre."""
    if len(cell_ids) == 0:
        return np.empty(0), np.empty(0)
    batch = pa.record_batch(h3v.cells_to_coordinates(pa.array(cell_ids, type=pa.uint64())))
    return (batch.column("lat").to_numpy(zero_copy_only=False),
            batch.column("lng").to_numpy(zero_copy_only=False))


def cell_areas_m2(cell_ids: np.ndarray) -> np.ndarray:
    """Exact (spherical) area of each cell in square metres."""
    if len(cell_ids) == 0:
        return np.empty(0)
    return _np(h3ronpy.cells_area_m2(pa.array(cell_ids, type=pa.uint64()))).astype(float)


def cell_polygons(cell_ids: np.ndarray) -> np.ndarray:
    """Shapely polygons (lng/lat) of the cells."""
    if len(cell_ids) == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(h3v.cells_to_wkb_polygons(pa.array(cell_ids, type=pa.uint64())))
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))


def cell_vertices(cell_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lng) of each cell's boundary vertices, (N, V) arrays in counter-clockwise order.

    V is the most vertices any cell has (6 for hexagons; pentagons and cells across an
    icosahedron edge differ); shorter rings repeat their last vertex, as CF cell bounds allow.
    """
    polygons = cell_polygons(cell_ids)
    if len(polygons) == 0:
        return np.empty((0, 6)), np.empty((0, 6))
    rings = shapely.get_exterior_ring(polygons)
    counts = shapely.get_num_coordinates(rings) - 1  # the closing vertex repeats the first
    xy = shapely.get_coordinates(rings)
    starts = np.r_[0, np.cumsum(counts + 1)[:-1]]
    width = int(counts.max())
    take = starts[:, None] + np.minimum(np.arange(width)[None, :], counts[:, None] - 1)
    return xy[take, 1], xy[take, 0]


def parents(cell_ids: np.ndarray, level: int) -> np.ndarray:
    """Parent cell of each cell at a coarser `level`."""
    return _np(h3ronpy.change_resolution(pa.array(cell_ids, type=pa.uint64()), level)).astype(
        np.uint64)


def resolutions(cell_ids) -> np.ndarray:
    """The H3 resolution of each cell (bits 52-55 of the index)."""
    ids = np.asarray(cell_ids, dtype=np.uint64)
    return ((ids >> np.uint64(52)) & np.uint64(0xF)).astype(np.int64)


def to_hex(cell_ids: np.ndarray) -> list[str]:
    """Hex strings of cells, for the edges (JSON, the browser, logs)."""
    return [h3.int_to_str(int(c)) for c in np.asarray(cell_ids, dtype=np.uint64)]


def from_hex(cells) -> np.ndarray:
    """uint64 cells from hex strings; a ValueError names the first string that is not a cell."""
    out = np.zeros(len(cells), dtype=np.uint64)
    for i, text in enumerate(cells):
        try:
            value = h3.str_to_int(str(text)) if h3.is_valid_cell(str(text)) else 0
        except (ValueError, TypeError, h3.H3BaseException):
            value = 0
        if not value:
            raise ValueError(f"{text!r} is not an H3 cell (expected a hex id such as "
                             f"8931aa0a2a3ffff)")
        out[i] = value
    return out


def hex_area_km2(resolution: int) -> float:
    """Average hexagon area at a resolution, in square kilometres."""
    return float(h3.average_hexagon_area(resolution, unit="km^2"))


def edge_length_m(resolution: int) -> float:
    """Average hexagon edge length at a resolution, in metres."""
    return float(h3.average_hexagon_edge_length(resolution, unit="m"))
