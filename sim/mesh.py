"""The mesh every solver shares: cells with areas and ground levels, joined by faces.

A mesh is a finite-volume description of the domain: each cell has an area and a ground level
`z_m`, and each neighbour pair shares a face of width `face_width_m` whose centres are
`distance_m` apart. `from_twin` builds it from H3 cells (hexagons: six faces, width = edge
length), `raster` from a square grid (four faces, width = distance = dx), so that the classic
benchmark cases defined on rectangular domains run unchanged through the same solvers.
`directions` (the unit vector from a cell towards each neighbour slot) gives each face its
normal and the faces in line with it, which the flood solver's theta weighting and 2-D friction
use (de Almeida et al. 2012; LISFLOOD-FP's `theta` and 2-D friction).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), as h3 uses


@dataclass(eq=False)
class Mesh:
    """Cells (area, ground level) and their neighbour faces (width, centre distance)."""

    area_m2: np.ndarray
    z_m: np.ndarray
    neighbors: np.ndarray
    face_width_m: np.ndarray
    distance_m: np.ndarray
    directions: np.ndarray | None = None  # (k, 2) the same for every cell, or (N, k, 2)
    grid_shape: tuple[int, int] | None = None  # (rows, cols) of a raster, in row-major order

    def __post_init__(self) -> None:
        self.area_m2 = np.ascontiguousarray(self.area_m2, dtype=np.float64)
        self.z_m = np.ascontiguousarray(self.z_m, dtype=np.float64)
        self.neighbors = np.ascontiguousarray(self.neighbors, dtype=np.int32)
        n = len(self.area_m2)
        if self.z_m.shape != (n,):
            raise ValueError(f"z_m must have one value per cell ({n}), got {self.z_m.shape}")
        if self.neighbors.ndim != 2 or self.neighbors.shape[0] != n:
            raise ValueError(f"neighbors must be (N, k) with N={n}, got {self.neighbors.shape}")
        shape = self.neighbors.shape
        # a scalar stays a zero-memory view: a 2000 x 2000 raster needs no per-face geometry
        self.face_width_m = np.broadcast_to(np.asarray(self.face_width_m, np.float64), shape)
        self.distance_m = np.broadcast_to(np.asarray(self.distance_m, np.float64), shape)
        if (self.area_m2 <= 0).any():
            raise ValueError("area_m2 must be positive in every cell")
        ok = self.neighbors >= 0
        if (self.distance_m[ok] <= 0).any() or (self.face_width_m[ok] <= 0).any():
            raise ValueError("distance_m and face_width_m must be positive on every face")
        if self.directions is not None:
            d = np.asarray(self.directions, dtype=np.float64)
            if d.shape not in ((shape[1], 2), (n, shape[1], 2)):
                raise ValueError(f"directions must be ({shape[1]}, 2) or ({n}, {shape[1]}, 2) unit "
                                 f"vectors towards each neighbour slot, got {d.shape}")
            self.directions = np.ascontiguousarray(d)

    def __len__(self) -> int:
        return len(self.area_m2)

    @cached_property
    def face_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Each face once as its cells (a, b), a < b, sorted by a (int32)."""
        rows, cols = np.nonzero(self.neighbors > np.arange(len(self))[:, None])
        return rows.astype(np.int32), self.neighbors[rows, cols].astype(np.int32)

    @property
    def faces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each face once as (a, b, width_m, distance_m) with a < b, sorted by a."""
        a, b = self.face_cells
        slot = self.face_slot[0].astype(np.intp)
        return (a, b, np.ascontiguousarray(self.face_width_m[a, slot]),
                np.ascontiguousarray(self.distance_m[a, slot]))

    @cached_property
    def face_geometry(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(width_m, 1 / distance_m, stride) per face for the solvers; stride 0 when uniform."""
        w, d = self.face_width_m, self.distance_m
        if w.strides == (0, 0) and d.strides == (0, 0):  # a scalar given: one value for all
            return np.array([w[0, 0]]), np.array([1.0 / d[0, 0]]), 0
        _, _, width, dist = self.faces
        return width, 1.0 / dist, 1

    @cached_property
    def face_slots(self) -> tuple[np.ndarray, np.ndarray]:
        """Per (cell, neighbour slot): face index into `faces` (-1 none), +1 if the cell is `a`."""
        a, b = self.face_cells
        n = len(self)
        nb = self.neighbors
        keys = a.astype(np.int64) * n + b
        order = np.argsort(keys)
        c = np.broadcast_to(np.arange(n)[:, None], nb.shape)
        ok = nb >= 0
        if len(keys) == 0:
            return np.full(nb.shape, -1, np.int32), np.ones(nb.shape, np.int8)
        slot_key = np.minimum(c, nb).astype(np.int64) * n + np.maximum(c, nb)
        idx = np.minimum(np.searchsorted(keys[order], np.where(ok, slot_key, 0)), len(keys) - 1)
        face = np.where(ok, order[idx], -1).astype(np.int32)
        sign = np.where(c < nb, 1, -1).astype(np.int8)
        return np.ascontiguousarray(face), np.ascontiguousarray(sign)

    @cached_property
    def face_slot(self) -> tuple[np.ndarray, np.ndarray]:
        """Per face: the neighbour slot it occupies in cell a and in cell b."""
        face, sign = self.face_slots
        n_faces = len(self.face_cells[0])
        slot = np.broadcast_to(np.arange(face.shape[1], dtype=np.int8), face.shape)
        in_a, in_b = np.empty(n_faces, np.int8), np.empty(n_faces, np.int8)
        own = face >= 0
        in_a[face[own & (sign > 0)]] = slot[own & (sign > 0)]
        in_b[face[own & (sign < 0)]] = slot[own & (sign < 0)]
        return in_a, in_b

    def _direction(self, cells: np.ndarray, slots: np.ndarray) -> np.ndarray:
        d = self._require_directions()
        return d[slots] if d.ndim == 2 else d[cells, slots]

    def _require_directions(self) -> np.ndarray:
        if self.directions is None:
            raise ValueError("this mesh has no `directions` (unit vectors towards each neighbour "
                             "slot): build it with mesh.raster or mesh.from_twin, or pass them")
        return self.directions

    @cached_property
    def face_normals(self) -> np.ndarray:
        """(F, 2) unit normal of each face, pointing from a to b."""
        a = self.face_cells[0]
        return np.ascontiguousarray(self._direction(a, self.face_slot[0]))

    @cached_property
    def face_axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per face the faces in line with it: (behind a, its sign, beyond b, its sign).

        The in-line face of a slot is the cell's face most nearly opposite it (cosine < -0.9;
        a wall, a mesh edge or a pentagon has none: -1). The sign turns that face's flow into
        the a -> b sense, so q_up = sign_up * q[up].
        """
        d = self._require_directions()
        face, sign = self.face_slots
        cos = np.einsum("...ji,...ki->...jk", d, d)  # (k, k) or (N, k, k)
        cos = np.where(np.eye(cos.shape[-1], dtype=bool), 1.0, cos)
        opposite = np.where(cos.min(-1) < -0.9, cos.argmin(-1), -1).astype(np.int64)
        a, b = self.face_cells
        in_a, in_b = self.face_slot
        out = []
        for cells, slots, turn in ((a, in_a, -1), (b, in_b, 1)):
            opp = opposite[slots] if opposite.ndim == 1 else opposite[cells, slots]
            ok = opp >= 0
            j = np.maximum(opp, 0)
            f = np.where(ok, face[cells, j], -1).astype(np.int32)
            out += [f, np.where(f >= 0, turn * sign[cells, j], 0).astype(np.int8)]
        return tuple(out)

    @property
    def min_distance_m(self) -> float:
        """The shortest centre-to-centre distance (sets the stable time step)."""
        ok = self.neighbors >= 0
        if not ok.any():
            return float(np.sqrt(self.area_m2.min()))
        if self.distance_m.strides == (0, 0):
            return float(self.distance_m[0, 0])
        return float(self.distance_m[ok].min())

    def subset(self, keep: np.ndarray) -> Mesh:
        """The mesh of the cells at positions `keep` (sorted); faces to other cells are dropped."""
        keep = np.asarray(keep, dtype=np.int64)
        new = np.full(len(self), -1, dtype=np.int32)
        new[keep] = np.arange(len(keep), dtype=np.int32)
        nb = self.neighbors[keep]
        nb = np.where(nb >= 0, new[np.maximum(nb, 0)], -1)
        d = self.directions
        return Mesh(self.area_m2[keep], self.z_m[keep], nb, self.face_width_m[keep],
                    self.distance_m[keep], d if d is None or d.ndim == 2 else d[keep])


RASTER_DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # E, W, S, N


def raster(elevation_2d: np.ndarray, dx_m: float) -> Mesh:
    """A square 4-neighbour grid; cell position = row * ncols + col; edges are closed."""
    z = np.asarray(elevation_2d, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"elevation_2d must be a 2-D array (rows, cols), got shape {z.shape}")
    if not dx_m > 0:
        raise ValueError(f"dx_m must be a positive cell size in metres, got {dx_m}")
    nr, nc = z.shape
    idx = np.arange(nr * nc, dtype=np.int32).reshape(nr, nc)
    nb = np.full((nr, nc, 4), -1, dtype=np.int32)
    nb[:, :-1, 0] = idx[:, 1:]   # east
    nb[:, 1:, 1] = idx[:, :-1]   # west
    nb[:-1, :, 2] = idx[1:, :]   # south (next row)
    nb[1:, :, 3] = idx[:-1, :]   # north (previous row)
    n = nr * nc
    return Mesh(np.full(n, dx_m * dx_m), z.ravel(), nb.reshape(n, 4), float(dx_m), float(dx_m),
                RASTER_DIRECTIONS, (nr, nc))


def haversine_m(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Great-circle distance in metres between points in degrees (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lng2) - np.asarray(lng1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def from_twin(twin, z_m: np.ndarray | None = None) -> Mesh:
    """The mesh of a twin's H3 cells: spherical areas, centre distances, hexagon edge widths.

    A regular hexagon of area A has edge e = sqrt(2 A / (3 sqrt 3)); the face between two cells
    takes the mean of their edges. Ground level is `elevation_m` unless `z_m` is given.
    """
    area = np.asarray(twin.area_m2, dtype=np.float64)
    nb = np.asarray(twin.neighbors, dtype=np.int32)
    lat, lng = twin.centers
    ok = nb >= 0
    j = np.where(ok, nb, np.arange(len(area))[:, None])
    dist = haversine_m(lat[:, None], lng[:, None], lat[j], lng[j])
    edge = np.sqrt(2.0 * area / (3.0 * np.sqrt(3.0)))
    width = 0.5 * (edge[:, None] + edge[j])
    dist = np.where(ok, dist, 1.0)
    width = np.where(ok, width, 1.0)
    z = twin.ds["elevation_m"].values if z_m is None else z_m
    # directions in a local plane (east, north) about each cell: exact enough for angles
    east = np.radians(lng[j] - lng[:, None]) * np.cos(np.radians(lat))[:, None]
    north = np.radians(lat[j] - lat[:, None])
    norm = np.hypot(east, north)
    norm = np.where(ok & (norm > 0), norm, 1.0)
    directions = np.where(ok[..., None], np.stack([east / norm, north / norm], -1), 0.0)
    return Mesh(area, z, nb, width, dist, directions)
