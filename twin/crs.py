"""Vectorised conversions between WGS-84 and the offset systems Chinese map providers use.

GCJ-02 ("Mars coordinates", AMap/Tencent) adds a deliberate, position-dependent offset to
WGS-84; BD-09 (Baidu) is a further rotation-and-scale of GCJ-02. The forward transforms are the
widely published reconstruction (Krasovsky 1940 ellipsoid constants, the same polynomial series
used by e.g. the `eviltransform` and `coordtransform` projects); the inverses iterate the forward
transform to sub-millimetre agreement, which the closed-form "subtract the offset once" inverse
does not reach (it is off by up to ~1 m).

Outside mainland China the offset is not applied (GCJ-02 equals WGS-84 there), as the providers do.
All functions take and return numpy arrays (scalars broadcast) of latitude and longitude in degrees.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CRS_NAMES", "to_wgs84", "from_wgs84", "wgs84_to_gcj02", "gcj02_to_wgs84",
           "gcj02_to_bd09", "bd09_to_gcj02", "wgs84_to_bd09", "bd09_to_wgs84", "out_of_china"]

CRS_NAMES = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0


def out_of_china(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """True where the point lies outside the rough mainland-China box the offset applies to."""
    lat, lng = np.asarray(lat, dtype=float), np.asarray(lng, dtype=float)
    return (lng < 72.004) | (lng > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lng - 105.0, lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlng = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lat, lng)
    return np.where(outside, 0.0, dlat), np.where(outside, 0.0, dlng)


def _arrays(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    return np.broadcast_arrays(np.asarray(lat, dtype=float), np.asarray(lng, dtype=float))


def wgs84_to_gcj02(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> GCJ-02."""
    lat, lng = _arrays(lat, lng)
    dlat, dlng = _offset(lat, lng)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS-84, by fixed-point iteration of the forward transform (< 1e-9 deg)."""
    lat, lng = _arrays(lat, lng)
    wlat, wlng = lat.copy(), lng.copy()
    for _ in range(30):
        glat, glng = wgs84_to_gcj02(wlat, wlng)
        elat, elng = glat - lat, glng - lng
        wlat, wlng = wlat - elat, wlng - elng
        if np.nanmax(np.abs(elat), initial=0.0) < 1e-10 and np.nanmax(np.abs(elng), initial=0.0) < 1e-10:
            break
    return wlat, wlng


def gcj02_to_bd09(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09."""
    lat, lng = _arrays(lat, lng)
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def bd09_to_gcj02(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02 (Baidu's published inverse; ~1e-6 deg, refined by one Newton-free step)."""
    lat, lng = _arrays(lat, lng)
    x, y = lng - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glat, glng = z * np.sin(theta), z * np.cos(theta)
    for _ in range(5):  # refine so that gcj02_to_bd09 round-trips to round-off
        blat, blng = gcj02_to_bd09(glat, glng)
        glat, glng = glat - (blat - lat), glng - (blng - lng)
    return glat, glng


def wgs84_to_bd09(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


def bd09_to_wgs84(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS-84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))


def _check(crs: str) -> str:
    name = str(crs).lower().replace("-", "").replace("_", "")
    if name not in CRS_NAMES:
        raise ValueError(f"unknown crs {crs!r}: use one of {', '.join(CRS_NAMES)}")
    return name


def to_wgs84(lat, lng, crs: str = "wgs84") -> tuple[np.ndarray, np.ndarray]:
    """Convert points given in `crs` ("wgs84", "gcj02", "bd09") to WGS-84."""
    name = _check(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lat, lng)
    if name == "bd09":
        return bd09_to_wgs84(lat, lng)
    return _arrays(lat, lng)


def from_wgs84(lat, lng, crs: str = "wgs84") -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 points to `crs` ("wgs84", "gcj02", "bd09")."""
    name = _check(crs)
    if name == "gcj02":
        return wgs84_to_gcj02(lat, lng)
    if name == "bd09":
        return wgs84_to_bd09(lat, lng)
    return _arrays(lat, lng)
