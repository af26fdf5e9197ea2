"""Zoom -> H3 level, bounds -> view, view -> cells, and live layers rolled up to a level.

A map at district zoom cannot show base-resolution cells (a res-9 hexagon is a few pixels wide),
and a map of a big city cannot send every cell: it asks for the coarsest-fine level whose
hexagons still read at its zoom (`level_for_zoom`) and only the cells in its view (`in_view`).
Layers are rolled up with numpy over a `Pyramid` made once per twin (the parent of every cell at
every level): counts are summed, `.max` layers take the maximum, `.mean` and `.last` the mean of
the cells that have a reading. Pure functions of arrays; the wall, the Cases map and the
city-scale maps share them. Web-Mercator maths as deck.gl does it (a 512-px world at zoom 0).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from twin import cells as h3cells

TILE_PX = 512.0  # deck.gl: the whole world is 512 px wide at zoom 0
EARTH_M = 40_075_016.686  # equator length
MIN_HEX_PX = 10.0  # a hexagon narrower than this on screen is a speck: use a coarser level
MAX_LAT = 85.051129


@dataclass(frozen=True)
class Bounds:
    """A lat/lng box (degrees)."""

    south: float
    west: float
    north: float
    east: float

    @staticmethod
    def of(lat: np.ndarray, lng: np.ndarray) -> Bounds:
        lat, lng = np.asarray(lat, float), np.asarray(lng, float)
        if lat.size == 0:
            raise ValueError("no points to bound: pass at least one lat/lng")
        return Bounds(float(lat.min()), float(lng.min()), float(lat.max()), float(lng.max()))

    def padded(self, metres: float) -> Bounds:
        """The box grown by `metres` on every side."""
        dlat = metres / 111_195.0
        dlng = dlat / max(math.cos(math.radians((self.south + self.north) / 2)), 1e-6)
        return Bounds(self.south - dlat, self.west - dlng, self.north + dlat, self.east + dlng)

    def contains(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        return (lat >= self.south) & (lat <= self.north) & (lng >= self.west) & (lng <= self.east)


# -- Web Mercator -----------------------------------------------------------------------------
def _x(lng):
    return (np.asarray(lng, float) + 180.0) / 360.0


def _y(lat):
    phi = np.radians(np.clip(np.asarray(lat, float), -MAX_LAT, MAX_LAT))
    return (1.0 - np.log(np.tan(phi) + 1.0 / np.cos(phi)) / math.pi) / 2.0


def _lng(x: float) -> float:
    return x * 360.0 - 180.0


def _lat(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y))))


def metres_per_pixel(zoom: float, lat: float) -> float:
    """Ground metres one screen pixel covers at a zoom and latitude."""
    return EARTH_M * math.cos(math.radians(lat)) / (TILE_PX * 2.0 ** zoom)


def fit_view(bounds: Bounds, width_px: float, height_px: float, margin: float = 0.08,
             min_zoom: float = 3.0, max_zoom: float = 16.0) -> dict:
    """The deck.gl view state that shows `bounds` whole in a map of that size, with `margin`
    (a share of each side) left free around it."""
    width_px, height_px = max(float(width_px), 1.0), max(float(height_px), 1.0)
    x0, x1 = _x(bounds.west), _x(bounds.east)
    y0, y1 = _y(bounds.north), _y(bounds.south)  # y grows southwards
    free = max(1.0 - 2.0 * margin, 0.1)
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    zoom = math.log2(min(width_px * free / (span_x * TILE_PX), height_px * free / (span_y * TILE_PX)))
    zoom = float(np.clip(zoom, min_zoom, max_zoom))
    return {"latitude": round(_lat((y0 + y1) / 2.0), 6), "longitude": round(_lng((x0 + x1) / 2.0), 6),
            "zoom": round(zoom, 3), "pitch": 0, "bearing": 0}


def view_bounds(view: dict, width_px: float, height_px: float) -> Bounds:
    """The lat/lng box a view state shows in a map of that size (no tilt)."""
    scale = TILE_PX * 2.0 ** float(view["zoom"])
    cx, cy = float(_x(view["longitude"])), float(_y(view["latitude"]))
    dx, dy = width_px / 2.0 / scale, height_px / 2.0 / scale
    return Bounds(_lat(min(cy + dy, 1.0)), _lng(max(cx - dx, 0.0)), _lat(max(cy - dy, 0.0)),
                  _lng(min(cx + dx, 1.0)))


def hex_width_m(level: int) -> float:
    """Flat-to-flat width of an average hexagon of an H3 level."""
    return math.sqrt(3.0) * h3cells.edge_length_m(level)


def level_for_zoom(zoom: float, lat: float, base: int, min_px: float = MIN_HEX_PX,
                   coarsest: int = 4) -> int:
    """The finest level, not finer than `base`, whose hexagons are at least `min_px` wide at
    this zoom (never coarser than `coarsest`)."""
    mpp = metres_per_pixel(zoom, lat)
    for level in range(base, coarsest - 1, -1):
        if hex_width_m(level) / mpp >= min_px:
            return level
    return min(coarsest, base)


# -- the pyramid of levels --------------------------------------------------------------------
@dataclass(frozen=True)
class Level:
    """One level of a pyramid: the parent cells (sorted uint64) holding the pyramid's cells, the
    parent index of every twin position (-1 outside), and the parents' centres."""

    level: int
    ids: np.ndarray
    parent_of: np.ndarray
    lat: np.ndarray
    lng: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(twin positions sorted by parent, where each parent's run starts): every parent has
        at least one child, so the runs map one-to-one onto `ids`. Made once, then kept."""
        inside = np.flatnonzero(self.parent_of >= 0)
        order = inside[np.argsort(self.parent_of[inside], kind="stable")]
        starts = np.flatnonzero(np.r_[True, np.diff(self.parent_of[order]) != 0]) \
            if len(order) else np.zeros(0, np.int64)
        return order, starts

    def hexes(self, index: np.ndarray | None = None) -> list[str]:
        """Hex ids of the parents (all, or those at `index`): the browser's format."""
        return h3cells.to_hex(self.ids if index is None else self.ids[index])


class Pyramid:
    """Every coarser level of some of a twin's cells (e.g. its land), made lazily and cached."""

    def __init__(self, cell_ids: np.ndarray, keep: np.ndarray | None = None) -> None:
        self.cell_ids = np.asarray(cell_ids, np.uint64)
        self.keep = np.ones(len(self.cell_ids), bool) if keep is None else np.asarray(keep, bool)
        self.base = int(h3cells.resolutions(self.cell_ids[:1])[0]) if len(self.cell_ids) else 0
        self._levels: dict[int, Level] = {}

    def at(self, level: int) -> Level:
        """The pyramid at one level (the base level is the kept cells themselves)."""
        if not 0 <= level <= self.base:
            raise ValueError(f"level must be 0..{self.base} (the twin's resolution), got {level}")
        if level not in self._levels:
            kept = np.flatnonzero(self.keep)
            parents = (self.cell_ids[kept] if level == self.base
                       else h3cells.parents(self.cell_ids[kept], level))
            ids, inverse = np.unique(parents, return_inverse=True)
            parent_of = np.full(len(self.cell_ids), -1, np.int64)
            parent_of[kept] = inverse
            lat, lng = h3cells.cell_centers(ids)
            self._levels[level] = Level(level, ids, parent_of, lat, lng)
        return self._levels[level]


@lru_cache(maxsize=4)
def _land_pyramid(key: tuple, twin) -> Pyramid:
    return Pyramid(twin.cell_ids, twin.ds["is_land"].values)


def land_pyramid(twin) -> Pyramid:
    """The pyramid of a twin's land cells (made once per twin)."""
    return _land_pyramid((twin.name, twin.resolution, len(twin)), twin)


def how_for(layer: str) -> str:
    """How a layer rolls up: counts are summed, `.max` takes the maximum, others the mean."""
    if layer.endswith(".count") or layer in ("population",):
        return "sum"
    return "max" if layer.endswith(".max") else "mean"


def rollup(values: np.ndarray, level: Level, how: str = "sum") -> np.ndarray:
    """Per-position values rolled up to the parents of a level (float64; NaN where no child
    has a reading, for 'max' and 'mean').

    One gather in parent order and one `reduceat` per statistic (the order is made once per
    level): about 10 ms for Tianjin's 1.28 M cells at resolution 10, where `ufunc.at` and
    masked bincounts took several times that."""
    values = np.asarray(values)
    if values.shape != level.parent_of.shape:
        raise ValueError(f"values need one entry per twin cell ({len(level.parent_of)}), "
                         f"got {values.shape}")
    if how not in ("sum", "mean", "max"):
        raise ValueError(f"how must be 'sum', 'mean' or 'max', not {how!r}")
    order, starts = level.runs
    if not len(order):
        return np.zeros(len(level)) if how == "sum" else np.full(len(level), np.nan)
    vals = values[order].astype(np.float64)
    seen = np.isfinite(vals)
    if how == "max":
        return np.fmax.reduceat(np.where(seen, vals, np.nan), starts)  # NaN only if all are
    total = np.add.reduceat(np.where(seen, vals, 0.0), starts)
    if how == "sum":
        return total
    count = np.add.reduceat(seen.astype(np.int64), starts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def changed_parents(level: Level, positions: np.ndarray) -> np.ndarray:
    """Sorted parent indices holding any of the changed twin positions."""
    positions = np.asarray(positions, np.int64)
    positions = positions[(positions >= 0) & (positions < len(level.parent_of))]
    parents = level.parent_of[positions]
    return np.unique(parents[parents >= 0])


def in_view(level: Level, bounds: Bounds) -> np.ndarray:
    """Sorted parent indices whose hexagon may show in the box (centres within one hexagon of
    it)."""
    grown = bounds.padded(hex_width_m(level.level))
    return np.flatnonzero(grown.contains(level.lat, level.lng))


def cluster(lat: np.ndarray, lng: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Points grouped by their cell at an H3 level: (cell of each point, uint64; unique cells
    sorted) so a map can draw one marker with a count per cell."""
    cells = h3cells.points_to_cells(np.asarray(lat, float), np.asarray(lng, float), level)
    return cells, np.unique(cells[cells != 0])
