"""The cells Dataset: static variables with CF-style attributes and the xdggs grid convention."""

from __future__ import annotations

import numpy as np
import xarray as xr

from twin.netcdf import grid_attrs

REGISTRIES = ("units", "zones", "grids", "facilities", "sensors", "cameras", "departments")
TABLES = ("departments",)  # registries without geometry: plain Parquet, not GeoParquet

LAND_USE = ("sea", "water", "wetland", "farmland", "residential", "commercial", "industrial",
            "petrochemical", "port")
LAND_USE_CODE = {name: code for code, name in enumerate(LAND_USE)}

VARIABLES = {
    "is_land": (bool, {"long_name": "cell centre on land (False: sea)"}),
    "population": (np.float64, {"units": "1", "long_name": "resident population (persons)"}),
    "elevation_m": (np.float32, {"units": "m", "long_name": "ground elevation above mean sea level"
                                 " (negative: sea bed)"}),
    "land_use": (np.int8, {"long_name": "dominant land use",
                           "flag_values": np.arange(len(LAND_USE), dtype=np.int8),
                           "flag_meanings": " ".join(LAND_USE)}),
    "unit": (np.int16, {"long_name": "street/town (jiezhen) index into the units registry",
                        "missing_value_note": "-1 outside every unit"}),
    "grid": (np.int32, {"long_name": "governance grid id (wangge)",
                        "missing_value_note": "-1 outside every grid"}),
    "road_capacity": (np.float32, {"units": "h-1", "long_name": "main-road capacity through "
                                                                "the cell (vehicles per hour)"}),
}

DEFAULTS = {"is_land": True, "population": 0.0, "elevation_m": 0.0, "land_use": 3, "unit": -1,
            "grid": -1, "road_capacity": 0.0}


def cells_dataset(cell_ids: np.ndarray, resolution: int, name: str = "twin",
                  **variables) -> xr.Dataset:
    """A twin Dataset on sorted uint64 `cell_ids`; unset static variables take their defaults."""
    cell_ids = np.asarray(cell_ids, dtype=np.uint64)
    order = np.argsort(cell_ids)
    if not (order == np.arange(len(order))).all():
        raise ValueError("cell_ids must be sorted")
    n = len(cell_ids)
    data = {}
    for var, (dtype, attrs) in VARIABLES.items():
        value = variables.pop(var, DEFAULTS[var])
        arr = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
        data[var] = ("cell", arr, dict(attrs))
    for var, value in variables.items():  # extra per-cell variables pass through
        data[var] = ("cell", np.asarray(value))
    coords = {"cell_ids": ("cell", cell_ids, grid_attrs(resolution))}
    return xr.Dataset(data, coords=coords, attrs={"name": name, "Conventions": "CF-1.10"})
