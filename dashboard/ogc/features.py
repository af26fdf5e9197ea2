"""pygeoapi feature providers of the twin: cells, registries, live layers, open alerts and cases.

Each provider turns its source into a GeoDataFrame (`frame()`); `TableProvider` does what OGC
API - Features asks of every collection on it: bbox (checked against WGS-84's range), property
equality filters, sorting, paging with `numberMatched`, property selection, GeoJSON out through
`twin.geojson` (RFC 7946). Cells are hex strings at this edge. Live layers, alerts and cases
follow the pages' role rules: a grid manager sees only the cells and cases of their grids.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from dashboard.ogc import state
from dashboard.policy import visible_grids
from twin import cells as h3cells
from twin import geojson
from twin.settings import iso_time

WINDOWS = ("5m", "1h", "24h")
_TYPES = {"b": "boolean", "i": "integer", "u": "integer", "f": "number"}


def check_bbox(bbox: list[float]) -> None:
    """Refuse a bbox outside WGS-84 (longitudes -180..180, latitudes -90..90)."""
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    minx, miny, maxx, maxy = bbox
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise ProviderInvalidQueryError(
            user_msg=f"bbox {','.join(map(str, bbox))} is out of range: give "
                     f"minlon,minlat,maxlon,maxlat in degrees (longitudes -180..180, latitudes "
                     f"-90..90)")


def _matches(column: pd.Series, text: str) -> np.ndarray:
    """Rows whose value equals the query text (numbers compared as numbers)."""
    if column.dtype.kind in "iuf":
        try:
            return (column.to_numpy() == float(text))
        except ValueError:
            raise ProviderInvalidQueryError(
                user_msg=f"{column.name}={text!r}: {column.name} is a number") from None
    if column.dtype.kind == "b":
        return column.to_numpy() == (text.lower() in ("true", "1", "yes"))
    return (column.astype(str) == text).to_numpy()


class TableProvider(BaseProvider):
    """A collection read from a GeoDataFrame that `frame()` builds for the request."""

    id_column = "id"
    extra_parameters: tuple[str, ...] = ()  # query parameters that are not properties

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.mount = state.get(self.data)
        self.id_field = self.id_column
        self._fields = self.get_fields()

    # -- what a collection says about itself --------------------------------------------------
    def frame(self, **extra) -> gpd.GeoDataFrame:
        raise NotImplementedError

    FIELDS: dict[str, str] | None = None  # name -> JSON type, when not read off the frame

    def get_fields(self) -> dict:
        if self.FIELDS is not None:
            return {name: {"type": kind} for name, kind in self.FIELDS.items()}
        sample = self.frame()
        return {c: {"type": _TYPES.get(sample[c].dtype.kind, "string")}
                for c in sample.columns if c != sample.geometry.name}

    # -- OGC API - Features -------------------------------------------------------------------
    def query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None,
              properties=None, sortby=None, select_properties=None, skip_geometry=False,
              **kwargs) -> dict:
        filters, extra = [], {}
        for name, value in properties or []:
            if name in self.extra_parameters:
                extra[name] = value
            else:
                filters.append((name, value))
        frame = self.frame(**extra)
        keep = np.ones(len(frame), bool)
        if bbox:
            check_bbox(bbox)
            box = shapely.box(*(bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])))
            keep &= shapely.intersects(frame.geometry.values, box)
        for name, value in filters:
            if name not in frame.columns:
                raise ProviderInvalidQueryError(
                    user_msg=f"unknown property {name!r}: filter on one of "
                             f"{', '.join(c for c in frame.columns if c != 'geometry')}")
            keep &= _matches(frame[name], value)
        frame = frame[keep]
        for rule in reversed(sortby or []):
            frame = frame.sort_values(rule["property"], ascending=rule.get("order") != "-",
                                      kind="stable")
        matched = len(frame)
        page = frame.iloc[offset:offset + limit] if resulttype != "hits" else frame.iloc[:0]
        if select_properties:
            page = page[[c for c in page.columns if c in select_properties or c in
                         (self.id_column, page.geometry.name)]]
        features = geojson.features(page, id_column=self.id_column)
        if skip_geometry:
            for feature in features:
                feature["geometry"] = None
        return {"type": "FeatureCollection", "features": features, "numberMatched": matched,
                "numberReturned": len(features)}

    def get(self, identifier, **kwargs) -> dict:
        frame = self.frame()
        row = frame[frame[self.id_column].astype(str) == str(identifier)]
        if row.empty:
            raise ProviderItemNotFoundError(
                user_msg=f"no feature {identifier!r} in this collection (or not yours to see)")
        return geojson.features(row, id_column=self.id_column)[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}> {self.data}"


def _hex_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """uint64 cell columns as hex strings (the edge)."""
    for column in frame.columns:
        if column == "cell" and frame[column].dtype.kind == "u":
            frame[column] = h3cells.to_hex(frame[column].to_numpy())
    return frame


class CellsProvider(TableProvider):
    """The twin's cells: hexagons with their static variables (`cell` is the hex id)."""

    id_column = "cell"

    def frame(self, **extra) -> gpd.GeoDataFrame:
        return self.mount.cells


class RegistryProvider(TableProvider):
    """One registry of the twin (units, zones, grids, facilities, sensors, cameras)."""

    PRIVATE = ("manager",)  # people's names stay out of the API

    def frame(self, **extra) -> gpd.GeoDataFrame:
        table = getattr(self.mount.twin, self.options["registry"])
        frame = table.drop(columns=[c for c in self.PRIVATE if c in table.columns]).copy()
        return _hex_cells(frame)


def grid_filter(grids: np.ndarray) -> np.ndarray:
    """Which cells of a live layer the viewer may see: a grid manager their grids' (the Grid
    page), every other role that may open the wall all of them."""
    viewer = state.viewer()
    allowed = visible_grids(viewer) if viewer is not None and viewer.role == "grid_manager" \
        else None
    if allowed is None:
        return np.ones(len(grids), bool)
    return np.isin(grids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))


def live_values(mount: state.Mount, layer: str) -> dict[str, np.ndarray]:
    """A live layer's current per-cell arrays by window (zeros without a live bus)."""
    from layers.live.snapshot import SnapshotStore

    n = len(mount.twin)
    if mount.bus is None:
        return {w: np.zeros(n, np.float32) for w in WINDOWS}
    store = SnapshotStore(mount.bus)
    out = {}
    for window in WINDOWS:
        arr = store.read(layer, window)
        out[window] = arr if len(arr) == n else np.zeros(n, np.float32)
    return out


class LiveLayerProvider(TableProvider):
    """A live layer: cells with their current value per window (`value_5m`, `value_1h`,
    `value_24h`); only cells where a window holds something unless `all_cells=true`."""

    id_column = "cell"
    extra_parameters = ("all_cells",)
    FIELDS = {"cell": "string", "grid": "integer", "unit": "integer",
              **{f"value_{w}": "number" for w in WINDOWS}}

    def __init__(self, provider_def: dict) -> None:
        provider_def = {**provider_def, "include_extra_query_parameters": True}
        super().__init__(provider_def)

    def frame(self, all_cells: str = "false", **extra) -> gpd.GeoDataFrame:
        twin = self.mount.twin
        values = live_values(self.mount, self.options["layer"])
        keep = grid_filter(twin.ds["grid"].values)
        if all_cells.lower() not in ("true", "1", "yes"):
            held = np.zeros(len(twin), bool)
            for arr in values.values():
                held |= np.nan_to_num(arr) != 0
            keep &= held
        pos = np.flatnonzero(keep)
        data = {"cell": h3cells.to_hex(twin.cell_ids[pos]),
                "grid": twin.ds["grid"].values[pos], "unit": twin.ds["unit"].values[pos]}
        data.update({f"value_{w}": values[w][pos].astype(float) for w in WINDOWS})
        return gpd.GeoDataFrame(data, geometry=self.mount.cells.geometry.values[pos], crs=4326)


def _points(rows: list[dict]) -> gpd.GeoDataFrame:
    lng = [r.pop("lng") for r in rows]
    lat = [r.pop("lat") for r in rows]
    return gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(lng, lat), crs=4326)


class CasesProvider(TableProvider):
    """Open cases (work orders) at their place; grid managers see their grids' only."""

    FIELDS = {"id": "string", "status": "string", "category": "string", "severity": "integer",
              "departments": "string", "grid": "integer", "grid_id": "string",
              "unit_name": "string", "level": "integer", "reports": "integer",
              "created": "string", "updated": "string", "deadline_kind": "string",
              "deadline": "string"}

    def open_cases(self) -> list:
        from layers.loop.cases import CaseStore

        if self.mount.bus is None:
            return []
        return CaseStore(self.mount.bus, None).open_cases(visible_grids(state.viewer()))

    def frame(self, **extra) -> gpd.GeoDataFrame:
        tz = self.mount.twin.timezone
        rows = [{"id": c.id, "status": c.status, "category": c.category,
                 "severity": int(c.severity), "departments": ",".join(c.departments),
                 "grid": int(c.place.grid), "grid_id": c.place.grid_id or "",
                 "unit_name": c.place.unit_name or "", "level": int(c.level),
                 "reports": int(c.reports), "created": iso_time(c.created, tz),
                 "updated": iso_time(c.updated, tz), "deadline_kind": c.deadline_kind or "",
                 "deadline": iso_time(c.deadline, tz) if c.deadline else "",
                 "lat": c.place.lat, "lng": c.place.lng} for c in self.open_cases()]
        return _points(rows) if rows else _empty(self.FIELDS)


class AlertsProvider(CasesProvider):
    """The alerts behind open cases (an alert is open while its case is), known by their public
    ids like CAP's (`/cap/alerts/{id}.xml`)."""

    FIELDS = {"id": "string", "rule": "string", "category": "string", "severity": "integer",
              "source": "string", "time": "string", "case": "string", "case_status": "string",
              "cells": "integer", "grid": "integer", "unit_name": "string"}

    def frame(self, **extra) -> gpd.GeoDataFrame:
        from layers.loop.alerts import AlertStore

        tz = self.mount.twin.timezone
        rows = [{"id": alert.public_id, "rule": alert.rule, "category": alert.category,
                 "severity": int(alert.severity), "source": alert.source,
                 "time": iso_time(alert.ts, tz), "case": case.id, "case_status": case.status,
                 "cells": len(alert.cells), "grid": int(case.place.grid),
                 "unit_name": case.place.unit_name or "", "lat": alert.lat, "lng": alert.lng}
                for alert, case in AlertStore(self.mount.bus).behind(self.open_cases())]
        return _points(rows) if rows else _empty(self.FIELDS)


def _empty(fields: dict[str, str]) -> gpd.GeoDataFrame:
    dtypes = {"string": str, "integer": "int64", "number": float}
    return gpd.GeoDataFrame({c: pd.Series(dtype=dtypes[k]) for c, k in fields.items()},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)
