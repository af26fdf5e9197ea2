"""GeoJSON as RFC 7946 wants it: WGS-84 lng/lat, 7 decimals (about 1 cm), no `crs` member.

One place writes GeoJSON features for every door out (the CLI's export, the OGC API), so the
precision and the members are the same everywhere.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import shapely

PRECISION = 7


def rounded(geometries, precision: int = PRECISION) -> np.ndarray:
    """Shapely geometries with every coordinate rounded to `precision` decimals."""
    geoms = np.asarray(geometries, dtype=object)
    return shapely.transform(geoms, lambda xy: np.round(xy, precision))


def plain(value):
    """A property value as JSON has it: numpy scalars to Python, NaN and None to null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    return value


def geometry(geom, precision: int = PRECISION) -> dict | None:
    """One shapely geometry as a GeoJSON geometry object (rounded), None for a missing one."""
    if geom is None or shapely.is_empty(geom):
        return None
    return json.loads(shapely.to_geojson(rounded([geom], precision)[0]))


def features(frame, id_column: str | None = None, precision: int = PRECISION) -> list[dict]:
    """The rows of a GeoDataFrame as GeoJSON Features (`id` from `id_column` when given)."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    geoms = rounded(frame.geometry.values, precision)
    texts = shapely.to_geojson(geoms)
    records = frame[columns].to_dict("records")
    out = []
    for record, geom, text in zip(records, geoms, texts, strict=True):
        feature = {"type": "Feature", "geometry": None if geom is None or shapely.is_empty(geom)
                   else json.loads(text),
                   "properties": {k: plain(v) for k, v in record.items()}}
        if id_column is not None:
            feature["id"] = plain(record[id_column])
        out.append(feature)
    return out


def write(frame, path: str | os.PathLike, precision: int = PRECISION) -> Path:
    """A GeoDataFrame (EPSG:4326) as an RFC 7946 FeatureCollection file."""
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    path = Path(path)
    body = {"type": "FeatureCollection", "features": features(frame, precision=precision)}
    path.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    encoding="utf-8")
    return path
