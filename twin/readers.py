"""Read and check the files a city brings: boundary, units, population, elevation, facilities.

Every reader returns data in WGS-84 lng/lat (EPSG:4326) or raises `TwinInputError` whose message
names the file and says what to fix, in one line. Vector files are anything geopandas reads
(GeoJSON, GeoPackage, Shapefile) plus GeoParquet; point tables are CSV with a header row.
Coordinates given in GCJ-02 (AMap, Tencent) or BD-09 (Baidu) are converted when `crs` says so.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from twin import crs as crs_mod
from twin.errors import TwinInputError

__all__ = ["read_polygons", "read_population", "read_elevation", "read_facilities",
           "check_lat_lng", "check_crs", "LAT_NAMES", "LNG_NAMES"]

LAT_NAMES = ("lat", "latitude", "y")
LNG_NAMES = ("lng", "lon", "long", "longitude", "x")
COUNT_NAMES = ("count", "population", "pop", "people")
ELEVATION_NAMES = ("elevation_m", "elevation", "elev", "height", "altitude", "z", "dem", "band1",
                   "value")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf")
POLYGONAL = ("Polygon", "MultiPolygon")
_FIX_GEOMETRY = "fix it in a GIS (e.g. QGIS 'Fix geometries') and try again"


def _fail(path, problem: str) -> TwinInputError:
    """A TwinInputError on one line."""
    return TwinInputError(str(path), " ".join(str(problem).split()))


def _brief(exc: Exception) -> str:
    """The gist of a library's error: its first sentence, at most 100 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= 100 else text[:97] + "..."


# -- vector files -----------------------------------------------------------------------------
def check_crs(crs: str, source: str = "--crs") -> str:
    """The canonical name of an input coordinate system (wgs84, gcj02, bd09)."""
    name = str(crs).lower().replace("-", "").replace("_", "")
    if name not in crs_mod.CRS_NAMES:
        raise _fail(source, f"unknown coordinate system {crs!r}: use one of "
                            f"{', '.join(crs_mod.CRS_NAMES)}")
    return name


def _from_offset_crs(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Geometries moved from GCJ-02/BD-09 lng/lat to WGS-84 (no-op for wgs84)."""
    if crs == "wgs84":
        return frame

    def convert(xy: np.ndarray) -> np.ndarray:
        lat, lng = crs_mod.to_wgs84(xy[:, 1], xy[:, 0], crs)
        return np.c_[lng, lat]

    moved = shapely.transform(frame.geometry.values, convert)
    return frame.set_geometry(gpd.GeoSeries(moved, crs=4326, index=frame.index))


def _read_vector(path, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Any vector file geopandas reads, or GeoParquet; unreadable files are a TwinInputError."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found: check the path")
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise _fail(path, f"cannot read it as a vector file ({_brief(exc)}): use GeoJSON, "
                          f"GeoPackage, Shapefile or GeoParquet") from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise _fail(path, "has no geometry column: use a vector file with geometries")
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)].reset_index(drop=True)
    if frame.empty:
        raise _fail(path, "has no features with a geometry: add features")
    return _from_offset_crs(_to_wgs84(frame, path), crs)


def _to_wgs84(frame: gpd.GeoDataFrame, path) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 when a CRS is set; without one, assume lng/lat and check it."""
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        try:
            frame = frame.to_crs(4326)
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, f"cannot reproject from {frame.crs.name} to WGS-84 ({_brief(exc)}): save "
                              f"it in EPSG:4326") from exc
    elif frame.crs is None:
        frame = frame.set_crs(4326)
    xmin, ymin, xmax, ymax = frame.total_bounds
    check_lat_lng(np.array([ymin, ymax]), np.array([xmin, xmax]), path,
                  hint="set the file's CRS or save it in EPSG:4326 (lng, lat degrees)")
    return frame


def check_lat_lng(lat: np.ndarray, lng: np.ndarray, path, where: np.ndarray | None = None,
                  hint: str = "give WGS-84 degrees") -> None:
    """Raise if coordinates are not WGS-84 degrees: projected metres, or lat/lng swapped."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    bad = ~((np.abs(lat) <= 90.0) & (np.abs(lng) <= 180.0))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    at = f" on line {int(where[i])}" if where is not None else ""
    swapped = (np.abs(lat) <= 180.0).all() and (np.abs(lng) <= 90.0).all()
    if swapped:
        raise _fail(path, f"latitude {lat[i]:g}{at} is outside -90..90: lat and lng look "
                          f"swapped; put latitude in lat and longitude in lng ({hint})")
    raise _fail(path, f"coordinate (lat {lat[i]:g}, lng {lng[i]:g}){at} is outside WGS-84 "
                      f"degrees (|lat| <= 90, |lng| <= 180): it looks projected; {hint}")


def read_polygons(path, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Polygon features of a vector file (boundary, units), invalid ones repaired."""
    frame = _read_vector(path, crs)
    kinds = frame.geometry.geom_type
    if not kinds.isin(POLYGONAL).any():
        found = ", ".join(sorted(set(kinds)))
        raise _fail(path, f"has no polygons (found {found}): give Polygon or MultiPolygon "
                          f"features")
    return _repaired(frame[kinds.isin(POLYGONAL)].reset_index(drop=True), path)


def _repaired(frame: gpd.GeoDataFrame, path) -> gpd.GeoDataFrame:
    """Polygon features with invalid geometries made valid (or a TwinInputError)."""
    geoms = frame.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return frame
    fixed = np.array(geoms, dtype=object)
    for i in np.flatnonzero(invalid):  # only the invalid few, not every feature
        fixed[i] = _repair(fixed[i], path, i)
    return frame.set_geometry(gpd.GeoSeries(fixed, crs=4326, index=frame.index))


def _repair(geom: shapely.Geometry, path, index: int) -> shapely.Geometry:
    """`make_valid`, keeping the polygonal parts; raise if no area is left."""
    reason = shapely.is_valid_reason(geom)
    parts = shapely.get_parts(shapely.make_valid(geom))
    parts = [p for p in parts if p.geom_type in POLYGONAL and p.area > 0]
    if not parts:
        raise _fail(path, f"feature {index + 1} has invalid geometry that cannot be repaired "
                          f"({reason}): {_FIX_GEOMETRY}")
    return shapely.union_all(parts)


# -- point tables -----------------------------------------------------------------------------
def _read_csv(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found: check the path")
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except Exception as exc:  # noqa: BLE001
        raise _fail(path, f"cannot read it as CSV ({_brief(exc)}): give a CSV with a header row") from exc
    if frame.empty:
        raise _fail(path, "has no data rows: add rows below the header")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is one of `names` (in `names` order)."""
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _numbers(frame: pd.DataFrame, column: str, path, row: str = "line") -> np.ndarray:
    """A column as float; names the first line (CSV) or feature that is not a number."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        shown = "an empty value" if pd.isna(raw.iloc[i]) else repr(str(raw.iloc[i]))
        at = f"line {i + 2}" if row == "line" else f"{row} {i + 1}"
        raise _fail(path, f"{at} has {shown} in column {column}: every value there "
                          f"must be a number")
    return values


def _csv_points(path, value_names: tuple[str, ...] = (), value_label: str = "",
                crs: str = "wgs84") -> pd.DataFrame:
    """lat, lng (+ one value column) from a CSV; checks columns, numbers and ranges."""
    frame = _read_csv(path)
    lat_col, lng_col = _column(frame, LAT_NAMES), _column(frame, LNG_NAMES)
    value_col = _column(frame, value_names) if value_names else None
    missing = [n for n, c in (("lat", lat_col), ("lng", lng_col)) if c is None]
    if value_names and value_col is None:
        missing.append(value_label)
    if missing:
        header = ",".join(["lat", "lng"] + ([value_label] if value_names else []))
        raise _fail(path, f"missing column {', '.join(missing)} (has {', '.join(frame.columns)})"
                          f": the header row must name {header}")
    out = frame.drop(columns=[lat_col, lng_col] + ([value_col] if value_col else []))
    out.insert(0, "lat", _numbers(frame, lat_col, path))
    out.insert(1, "lng", _numbers(frame, lng_col, path))
    if value_col:
        out.insert(2, value_label, _numbers(frame, value_col, path))
    check_lat_lng(out["lat"].to_numpy(), out["lng"].to_numpy(), path,
                  where=np.arange(len(out)) + 2)
    if crs != "wgs84":
        out["lat"], out["lng"] = crs_mod.to_wgs84(out["lat"].to_numpy(), out["lng"].to_numpy(),
                                                  crs)
    return out


def _vector_points(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """lat/lng columns from point features (other geometries: a point inside them)."""
    geoms = frame.geometry.values
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    out = pd.DataFrame(frame.drop(columns=[frame.geometry.name]
                                  + [c for c in ("lat", "lng") if c in frame]))
    out.insert(0, "lat", shapely.get_y(points))
    out.insert(1, "lng", shapely.get_x(points))
    return out


def _is_csv(path) -> bool:
    return Path(path).suffix.lower() in (".csv", ".txt", ".tsv")


def _no_negatives(values: np.ndarray, path, what: str, line_offset: int = 2) -> None:
    if (values < 0).any():
        i = int(np.flatnonzero(values < 0)[0])
        raise _fail(path, f"line {i + line_offset} has a negative {what} ({values[i]:g}): "
                          f"{what} must be 0 or more")


# -- population, elevation, facilities ----------------------------------------------------------
def read_population(path, crs: str = "wgs84") -> pd.DataFrame | gpd.GeoDataFrame:
    """Residents: a DataFrame of `lat, lng, count` points, or polygons with a `count` column.

    CSV gives points; a vector file gives points or polygons (its count column may be named
    count, population, pop or people).
    """
    if _is_csv(path):
        points = _csv_points(path, COUNT_NAMES, "count", crs=crs)
        _no_negatives(points["count"].to_numpy(), path, "count")
        return points
    frame = _read_vector(path, crs)
    column = _column(frame, COUNT_NAMES)
    if column is None:
        raise _fail(path, "has no count column: add a numeric column named count (residents "
                          "per feature)")
    counts = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(counts).all():
        i = int(np.flatnonzero(~np.isfinite(counts))[0])
        raise _fail(path, f"feature {i + 1} has a {column} that is not a number: every "
                          f"{column} must be a number")
    _no_negatives(counts, path, "count", line_offset=1)
    kinds = frame.geometry.geom_type
    polygonal = kinds.isin(POLYGONAL)
    if polygonal.any() and not polygonal.all():
        raise _fail(path, "mixes polygons with other geometries: give only points or only "
                          "polygons")
    if polygonal.all():
        polygons = _repaired(frame, path)
        return gpd.GeoDataFrame({"count": counts}, geometry=polygons.geometry.values, crs=4326)
    points = _vector_points(frame)
    return pd.DataFrame({"lat": points["lat"], "lng": points["lng"], "count": counts})


def read_elevation(path, crs: str = "wgs84") -> pd.DataFrame | xr.DataArray:
    """Ground elevation: a DataFrame of `lat, lng, elevation_m` points, or a 2-D DataArray on
    ascending `lat`, `lng` coordinates read from a netCDF grid.

    A grid keeps its own coordinates (regridding would blur it); its `crs` attribute says which
    system they are in, and `twin.build` samples it at cell centres converted to that system.
    """
    if Path(path).suffix.lower() in NETCDF_SUFFIXES:
        grid = _read_grid(path)
        grid.attrs["crs"] = crs
        return grid
    if _is_csv(path):
        return _csv_points(path, ELEVATION_NAMES, "elevation_m", crs=crs)[
            ["lat", "lng", "elevation_m"]]
    points = _vector_points(_read_vector(path, crs))
    column = _column(points, ELEVATION_NAMES)
    if column is None:
        raise _fail(path, "has no elevation column: add a numeric column named elevation_m")
    return pd.DataFrame({"lat": points["lat"], "lng": points["lng"],
                         "elevation_m": _numbers(points, column, path, "feature")})


def _read_grid(path) -> xr.DataArray:
    """An elevation DataArray from a netCDF file, with dims renamed to lat, lng."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found: check the path")
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001
        raise _fail(path, f"cannot open it as netCDF ({_brief(exc)}): give a netCDF grid with lat/lon "
                          f"coordinates") from exc
    lat_name = _name_in(list(ds.coords) + list(ds.dims), LAT_NAMES)
    lng_name = _name_in(list(ds.coords) + list(ds.dims), LNG_NAMES)
    if lat_name is None or lng_name is None:
        raise _fail(path, f"has no lat/lon coordinates (has {', '.join(map(str, ds.dims))}): "
                          f"name them lat and lon (or latitude/longitude, y/x)")
    candidates = [v for v in ds.data_vars if {lat_name, lng_name} <= set(ds[v].dims)]
    if not candidates:
        raise _fail(path, f"has no variable on ({lat_name}, {lng_name}): add the elevation "
                          f"grid as a variable on those dimensions")
    chosen = _name_in(candidates, ELEVATION_NAMES) if len(candidates) > 1 else candidates[0]
    if chosen is None:
        raise _fail(path, f"has several grids ({', '.join(map(str, candidates))}): name the "
                          f"elevation one elevation_m")
    da = ds[chosen].squeeze(drop=True)
    if da.ndim != 2:
        raise _fail(path, f"variable {chosen} has dimensions {da.dims}: give a 2-D lat/lon grid")
    da = da.rename({lat_name: "lat", lng_name: "lng"}).transpose("lat", "lng")
    da = da.sortby("lat").sortby("lng").astype(float)
    check_lat_lng(da["lat"].values[[0, -1]], da["lng"].values[[0, -1]], path,
                  hint="regrid it to WGS-84 lat/lon degrees")
    return da


def _name_in(names, wanted: tuple[str, ...]):
    """The first of `names` whose lower-cased form is in `wanted` (in `wanted` order)."""
    lower = {str(n).lower(): n for n in names}
    return next((lower[w] for w in wanted if w in lower), None)


def read_facilities(path, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Facility points with `id`, `name`, `kind` and (if given) `capacity` columns.

    A CSV needs lat, lng; id defaults to F-<n>, name to the id and kind to "facility". Other
    columns pass through. Polygon facilities are placed at a point inside them.
    """
    row = "line" if _is_csv(path) else "feature"
    table = _csv_points(path, crs=crs) if row == "line" else _vector_points(_read_vector(path, crs))
    table = table.reset_index(drop=True)
    n = len(table)
    ids = table["id"].astype(str) if "id" in table else pd.Series([f"F-{i + 1}" for i in range(n)])
    names = table["name"].astype(str) if "name" in table else ids
    kinds = table["kind"].astype(str) if "kind" in table else pd.Series(["facility"] * n)
    dup = ids[ids.duplicated()]
    if not dup.empty:
        raise _fail(path, f"id {dup.iloc[0]!r} appears more than once: give each facility a "
                          f"unique id")
    out = pd.DataFrame({"id": ids.to_numpy(), "name": names.to_numpy(), "kind": kinds.to_numpy()})
    if "capacity" in table:
        out["capacity"] = _numbers(table, "capacity", path, row)
    rest = [c for c in table.columns if c not in ("lat", "lng", "id", "name", "kind", "capacity")]
    for column in rest:
        out[column] = table[column].to_numpy()
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(table["lng"], table["lat"]),
                            crs=4326)
