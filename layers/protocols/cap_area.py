"""The `<area>` of a CAP message: polygons that CAP readers accept, and names people know.

CAP 1.2 polygons are single closed rings with no holes, so a patch of cells around an
unaffected cell (an outline with a hole) is cut into hole-free pieces that cover exactly the
same ground. `area_description` names the streets/towns (街镇) and governance grids (网格) the
cells lie in, from the twin's registries.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import split

from twin import cells as h3cells

MAX_GRIDS_NAMED = 6


def without_holes(polygon: Polygon) -> list[Polygon]:
    """Hole-free polygons covering exactly `polygon`: cut through each hole until none is left."""
    if not polygon.interiors:
        return [polygon]
    hole = shapely.Polygon(polygon.interiors[0])
    x = hole.representative_point().x
    minx, miny, maxx, maxy = polygon.bounds
    cut = LineString([(x, miny - 1.0), (x, maxy + 1.0)])
    pieces = [p for p in split(polygon, cut).geoms if isinstance(p, Polygon) and p.area > 0]
    return [q for piece in pieces for q in without_holes(piece)]


def outline(cells) -> list[Polygon]:
    """The union of the cells' hexagons as hole-free polygons (lng/lat)."""
    ids = np.asarray(cells, dtype=np.uint64)
    if len(ids) == 0:
        return []
    shape = shapely.coverage_union_all(h3cells.cell_polygons(ids))
    return [piece for part in shapely.get_parts(shape) if isinstance(part, Polygon)
            for piece in without_holes(part)]


def cap_polygon(polygon: Polygon) -> str:
    """A CAP polygon: "lat,lon" pairs, first = last, 6 decimals (about 0.1 m)."""
    ring = np.asarray(polygon.exterior.coords)
    return " ".join(f"{lat:.6f},{lng:.6f}" for lng, lat in ring)


def area_description(twin, cells, lang: str = "zh") -> str | None:
    """The streets/towns and grids of the cells, e.g. "新北街道（网格 G0006、G0007）"; None when
    no cell lies in the twin."""
    pos = twin.positions(np.asarray(cells, dtype=np.uint64))
    pos = pos[pos >= 0]
    if len(pos) == 0:
        return None
    units = twin.units.set_index("unit") if "unit" in twin.units else None
    grids = twin.grids.set_index("grid") if "grid" in twin.grids else None
    parts = []
    unit_codes = twin.ds["unit"].values[pos]
    grid_codes = twin.ds["grid"].values[pos]
    for code in dict.fromkeys(unit_codes.tolist()):
        name = _name(units, code, lang)
        ids = [_grid_id(grids, g) for g in dict.fromkeys(grid_codes[unit_codes == code].tolist())
               if g >= 0]
        if len(ids) > MAX_GRIDS_NAMED:
            ids = ids[:MAX_GRIDS_NAMED] + (["等"] if lang == "zh" else ["..."])
        if name and ids:
            parts.append(f"{name}（网格 {'、'.join(ids)}）" if lang == "zh" else
                         f"{name} (grids {', '.join(ids)})")
        elif name or ids:
            parts.append(name or (f"网格 {'、'.join(ids)}" if lang == "zh" else
                                  f"grids {', '.join(ids)}"))
    return ("；" if lang == "zh" else "; ").join(parts) or None


def _name(units, code: int, lang: str) -> str | None:
    if units is None or code < 0 or code not in units.index:
        return None
    row = units.loc[code]
    if lang == "en" and isinstance(row.get("name_en"), str) and row.get("name_en"):
        return str(row["name_en"])
    return str(row["name"])


def _grid_id(grids, code: int) -> str:
    if grids is not None and code in grids.index and "id" in grids.columns:
        return str(grids.loc[code, "id"])
    return str(code)
