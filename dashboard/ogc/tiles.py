"""Vector tiles (MVT) of a live layer at a zoom-dependent H3 resolution, as a pygeoapi provider.

A tile of zoom z holds the layer rolled up to the finest H3 level whose hexagons are still at
least `MIN_EDGE_PX` pixels wide at that zoom (counts summed, readings' maximum kept), one
polygon per parent cell that holds something, with `cell`, `level` and `value_{window}`. So a
web map (MapLibre, kepler.gl) pays for the cells it can see at the detail it can show.
Tiles are WebMercatorQuad (EPSG:3857), 4096 units a side.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeoapi.provider.base_mvt import BaseMVTProvider

from dashboard.ogc import state
from dashboard.ogc.features import WINDOWS, grid_filter, live_values
from twin import cells as h3cells

EARTH_M = 6378137.0
TILE_PX = 256
MIN_EDGE_PX = 4.0
EXTENT = 4096
MAX_ZOOM = 18


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a WebMercatorQuad tile, in degrees."""
    n = 2 ** z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def mercator(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees to EPSG:3857 metres."""
    lat = np.clip(lat, -85.05112878, 85.05112878)
    return (EARTH_M * np.radians(lng),
            EARTH_M * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def level_for_zoom(z: int, lat: float, finest: int) -> int:
    """The finest H3 level (<= the twin's) whose hexagon edge is >= MIN_EDGE_PX at zoom z."""
    metres_per_px = 2 * math.pi * EARTH_M * math.cos(math.radians(lat)) / (TILE_PX * 2 ** z)
    for level in range(finest, -1, -1):
        if h3cells.edge_length_m(level) / metres_per_px >= MIN_EDGE_PX:
            return level
    return 0


class LiveTileProvider(BaseMVTProvider):
    """MVT tiles of one live layer (`options.layer`), every window's value on each hexagon."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.mount = state.get(self.data)
        self.layer = self.options["layer"]

    def __repr__(self) -> str:
        return f"<LiveTileProvider> {self.layer}"

    def get_layer(self) -> str:
        return self.layer

    def get_tiles_service(self, baseurl=None, servicepath=None, dirpath=None, tile_type=None):
        self._service_url = servicepath
        return self.get_tms_links()

    def get_default_metadata(self, dataset, server_url, layer, tileset, title, description,
                             keywords, **kwargs) -> dict:
        return {"title": title or dataset, "description": description or "",
                "dataType": "vector", "tileMatrixSetURI": self.get_tiling_schemes()[0]
                .tileMatrixSetURI, "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "layers": [{"id": layer, "dataType": "vector", "geometryType": "polygons",
                            "propertiesSchema": {"type": "object", "properties": {
                                "cell": {"type": "string"}, "level": {"type": "integer"},
                                **{f"value_{w}": {"type": "number"} for w in WINDOWS}}}}],
                "links": []}

    def get_tiles(self, layer=None, tileset=None, z=None, y=None, x=None, format_=None):
        import mapbox_vector_tile

        z, y, x = _tile_index(z, y, x)
        twin = self.mount.twin
        lat, lng = twin.centers
        level = level_for_zoom(z, float(np.mean(lat)) if len(lat) else 0.0, twin.resolution)
        west, south, east, north = tile_bounds(z, x, y)
        pad = 2 * h3cells.edge_length_m(level) / 111_000.0  # hexagons across the border
        inside = ((lng >= west - pad) & (lng <= east + pad) & (lat >= south - pad)
                  & (lat <= north + pad) & grid_filter(twin.ds["grid"].values))
        pos = np.flatnonzero(inside)
        values = live_values(self.mount, self.layer)
        parents = h3cells.parents(twin.cell_ids[pos], level)
        keys, inverse = np.unique(parents, return_inverse=True)
        rolled = {w: _roll(values[w][pos], inverse, len(keys), self.layer.endswith(".count"))
                  for w in WINDOWS}
        held = np.zeros(len(keys), bool)
        for arr in rolled.values():
            held |= np.nan_to_num(arr) != 0
        keep = np.flatnonzero(held)
        polygons = h3cells.cell_polygons(keys[keep])
        bounds = (*mercator(np.array([west]), np.array([south])),
                  *mercator(np.array([east]), np.array([north])))
        features = []
        hexes = h3cells.to_hex(keys[keep])
        for k, poly in enumerate(polygons):
            xy = shapely.get_coordinates(poly)
            mx, my = mercator(xy[:, 0], xy[:, 1])
            props = {"cell": hexes[k], "level": int(level)}
            props.update({f"value_{w}": float(v) for w in WINDOWS
                          if np.isfinite(v := rolled[w][keep[k]])})
            features.append({"geometry": shapely.Polygon(np.c_[mx, my]).wkb,
                             "properties": props})
        return mapbox_vector_tile.encode(
            [{"name": self.layer, "features": features}],
            default_options={"quantize_bounds": tuple(float(b[0]) for b in bounds),
                             "extents": EXTENT})


def _tile_index(z, y, x) -> tuple[int, int, int]:
    """The tile's indexes as integers in range; a bad one is a 400 naming the range."""
    try:
        z, y, x = int(z), int(y), int(x)
    except (TypeError, ValueError):
        raise ProviderInvalidQueryError(user_msg=f"tile {z}/{y}/{x}: zoom, row and column are "
                                                 f"whole numbers") from None
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise ProviderInvalidQueryError(
            user_msg=f"tile {z}/{y}/{x} is out of range: zoom 0-{MAX_ZOOM}, row and column "
                     f"0-{2 ** z - 1 if 0 <= z <= MAX_ZOOM else '2^zoom-1'}")
    return z, y, x


def _roll(values: np.ndarray, inverse: np.ndarray, n: int, is_count: bool) -> np.ndarray:
    """Per-parent sums (counts) or maxima (readings) of base-level values."""
    if is_count:
        return np.bincount(inverse, weights=np.nan_to_num(values), minlength=n)
    out = np.full(n, -np.inf)
    np.maximum.at(out, inverse, np.where(np.isnan(values), -np.inf, values))
    return np.where(np.isfinite(out), out, np.nan)
