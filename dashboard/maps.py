"""Map layers as deck.gl JSON (rendered by dash-deck): pure functions of the twin and values.

The basemap is drawn from the twin's own vector data (sea, water, street/town outlines), so the
map works offline with no tile server. Cells travel as H3 hex strings, the browser's edge format.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

import dash_deck  # a component library: imported with the pages, never inside a callback
import numpy as np
import pyarrow as pa
import shapely

from twin import cells as h3cells
from twin.dataset import LAND_USE, LAND_USE_CODE

_SETTINGS = {"tile_url": None}


def configure(tile_url: str | None = None) -> None:
    """Optional raster basemap: an XYZ tile URL template ({z}/{x}/{y}) when a network has one."""
    if tile_url is not None and not all(k in tile_url for k in ("{z}", "{x}", "{y}")):
        raise ValueError(f"tile URL {tile_url!r} needs {{z}}, {{x}} and {{y}} placeholders, "
                         f"e.g. http://tiles.example/{{z}}/{{x}}/{{y}}.png")
    _SETTINGS["tile_url"] = tile_url


def raster_style(tile_url: str) -> dict:
    """A map style with one raster tile source (drawn under the deck.gl layers)."""
    return {"version": 8, "sources": {"tiles": {"type": "raster", "tiles": [tile_url],
                                                "tileSize": 256}},
            "layers": [{"id": "tiles", "type": "raster", "source": "tiles"}]}


def map_component(component_id: str, data: dict, **kwargs):
    """A dash-deck map; with a tile URL configured it also draws the raster basemap."""
    if _SETTINGS["tile_url"]:
        kwargs.setdefault("mapboxKey", "no-token-needed-for-raster-tiles")
    kwargs.setdefault("style", {"position": "relative", "height": "100%"})
    return dash_deck.DeckGL(id=component_id, data=data, **kwargs)


# A perceptually ordered ramp (dark blue -> teal -> yellow -> red), RGB.
RAMP = np.array([[30, 60, 120], [30, 140, 160], [120, 200, 110], [250, 220, 60],
                 [240, 120, 40], [200, 30, 40]], dtype=float)
LAND_USE_COLORS = {"sea": [20, 50, 90], "water": [60, 120, 200], "wetland": [90, 170, 150],
                   "farmland": [170, 190, 110], "residential": [230, 200, 120],
                   "commercial": [240, 130, 90], "industrial": [160, 140, 170],
                   "petrochemical": [200, 80, 120], "port": [120, 130, 150]}


def colors(values: np.ndarray, vmin: float | None = None, vmax: float | None = None,
           alpha: int = 200) -> np.ndarray:
    """(N, 4) uint8 RGBA colours of values on the ramp (clipped to vmin..vmax)."""
    values = np.asarray(values, dtype=float)
    lo = np.nanmin(values) if vmin is None else vmin
    hi = np.nanmax(values) if vmax is None else vmax
    scaled = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1) * (len(RAMP) - 1)
    stops = np.arange(len(RAMP))
    rgb = np.stack([np.interp(scaled, stops, RAMP[:, k]) for k in range(3)], axis=1)
    rgba = np.c_[rgb, np.full(len(values), alpha)]
    return np.nan_to_num(rgba).astype(np.uint8)


def hexagon_records(cell_ids: np.ndarray, values: np.ndarray, rgba: np.ndarray) -> list[dict]:
    """Records for an H3HexagonLayer: hex id, value and colour of each cell given."""
    hexes = h3cells.to_hex(cell_ids)
    return [{"hex": h, "v": round(float(v), 3), "c": c}
            for h, v, c in zip(hexes, values.tolist(), rgba.tolist(), strict=True)]


def value_layer(twin, variable: str, log: bool = False) -> dict:
    """An H3HexagonLayer of one static variable over the twin's land cells."""
    values = twin.ds[variable].values.astype(float)
    land = twin.ds["is_land"].values
    keep = land & (values != 0) if variable != "elevation_m" else land
    if variable == "land_use":
        palette = np.array([LAND_USE_COLORS[name] + [200] for name in LAND_USE], dtype=np.uint8)
        rgba = palette[twin.ds["land_use"].values[keep]]
    else:
        shown = np.log1p(np.clip(values[keep], 0, None)) if log else values[keep]
        rgba = colors(shown, vmin=float(np.percentile(shown, 2)) if len(shown) else 0,
                      vmax=float(np.percentile(shown, 98)) if len(shown) else 1)
    return {"@@type": "H3HexagonLayer", "id": f"static-{variable}",
            "data": hexagon_records(twin.cell_ids[keep], values[keep], rgba),
            "getHexagon": "@@=hex", "getFillColor": "@@=c", "extruded": False,
            "stroked": False, "pickable": True, "highPrecision": False}


def _outline(cell_ids: np.ndarray) -> dict:
    """GeoJSON geometry of the union of some cells (H3-linked, no slivers)."""
    if len(cell_ids) == 0:
        return {"type": "GeometryCollection", "geometries": []}
    wkb = h3cells.h3v.cells_to_wkb_polygons(pa.array(cell_ids, type=pa.uint64()), link_cells=True)
    parts = shapely.from_wkb(pa.array(wkb).to_numpy(zero_copy_only=False))
    return _mapping(shapely.union_all(parts))


BASEMAP_TOLERANCE_DEG = 0.0005  # simplification: ~50 m, under a pixel at district zoom
BASEMAP_GRID_DEG = 1e-5  # coordinates snapped to ~1 m: a third of the bytes of full doubles


def _mapping(geom) -> dict:
    """GeoJSON geometry of a basemap shape, simplified and snapped to the basemap's grid."""
    return shapely.geometry.mapping(shapely.set_precision(geom.simplify(BASEMAP_TOLERANCE_DEG),
                                                          BASEMAP_GRID_DEG))


def polygons(geom) -> list[list[list[list[float]]]]:
    """The polygons of a shape as deck.gl PolygonLayer rings (outer ring first, then holes;
    [lng, lat] pairs), simplified and snapped like the basemap's."""
    shape = shapely.set_precision(geom.simplify(BASEMAP_TOLERANCE_DEG), BASEMAP_GRID_DEG)
    return [[np.asarray(ring.coords)[:, :2].round(5).tolist()
             for ring in (part.exterior, *part.interiors)]
            for part in shapely.get_parts(shape)
            if part.geom_type == "Polygon" and not part.is_empty]


@lru_cache(maxsize=4)
def _basemap_cached(key: tuple, twin) -> str:
    land_use = twin.ds["land_use"].values
    ids = twin.cell_ids
    features = [
        {"type": "Feature", "properties": {"kind": "sea", "fill": [18, 44, 78, 255]},
         "geometry": _outline(ids[land_use == LAND_USE_CODE["sea"]])},
        {"type": "Feature", "properties": {"kind": "land", "fill": [34, 38, 46, 255]},
         "geometry": _outline(ids[twin.ds["is_land"].values])},
        {"type": "Feature", "properties": {"kind": "water", "fill": [40, 90, 150, 255]},
         "geometry": _outline(ids[land_use == LAND_USE_CODE["water"]])},
    ]
    for geom in twin.units.geometry.values:
        features.append({"type": "Feature", "properties": {"kind": "unit", "fill": [0, 0, 0, 0]},
                         "geometry": _mapping(geom)})
    return json.dumps({"type": "FeatureCollection", "features": features})


BASEMAP_PATH = "/maps/basemap.geojson"  # served by dashboard.app, behind the login like a page


def basemap_geojson(twin) -> tuple[str, str]:
    """The basemap's GeoJSON text and a version naming its content (for the URL and caching)."""
    text = _basemap_cached((twin.name, twin.resolution, len(twin)), twin)
    return text, _version(text)


@lru_cache(maxsize=4)
def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def basemap_layer(twin) -> dict:
    """The offline basemap: sea, land, rivers and street/town outlines from the twin itself.

    The layer names the basemap by URL (`BASEMAP_PATH?v=version`): the browser fetches it once
    and keeps it, so a map's spec carries only its own layers (the basemap is 95% of a Cases
    map's bytes at 10,000 open cases)."""
    return {"@@type": "GeoJsonLayer", "id": "basemap",
            "data": f"{BASEMAP_PATH}?v={basemap_geojson(twin)[1]}", "stroked": True,
            "filled": not _SETTINGS["tile_url"],  # over raster tiles: outlines only
            "getFillColor": "@@=properties.fill", "getLineColor": [140, 150, 170, 200],
            "lineWidthMinPixels": 1, "pickable": False}


def view_state(twin, positions: np.ndarray | None = None, height_px: float = 560.0,
               width_px: float | None = None, margin: float = 0.08) -> dict:
    """The view that fits some cells (default: the land) whole into a map of that size (width
    default 1.6 x the height), with a margin; cells are padded by their own size."""
    from dashboard import zoomlevels

    lat, lng = twin.centers
    keep = twin.ds["is_land"].values if positions is None else np.asarray(positions)
    box = zoomlevels.Bounds.of(lat[keep], lng[keep]).padded(h3cells.edge_length_m(
        twin.resolution))
    return zoomlevels.fit_view(box, width_px or 1.6 * height_px, height_px, margin)


def deck(twin, layers: list[dict], focus: np.ndarray | None = None,
         height_px: float = 560.0, width_px: float | None = None,
         view: dict | None = None) -> dict:
    """A full deck.gl JSON spec: basemap first, then the given layers; no tile server. The view
    is `view` when given, else the one fitting `focus` (default: the land) into the map size."""
    tiles = _SETTINGS["tile_url"]
    return {"initialViewState": view or view_state(twin, focus, height_px, width_px),
            "views": [{"@@type": "MapView", "controller": True}],
            "layers": [basemap_layer(twin), *layers],
            "mapStyle": raster_style(tiles) if tiles else None}
