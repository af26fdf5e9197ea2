"""The weather at a point from live weather-station readings, for what-ifs started from them.

A toxic-release what-if "started from live readings" takes the wind at the release point from
the nearest weather station that reports both wind speed and direction, and its Pasquill-Gifford
stability class from that station's wind and cloud by Turner's method (`sim.stability.turner`,
EPA-454/R-99-005 section 6.4.1), with the sun's altitude at the release point and time. The
choice is recorded (`LiveWeather.record`) so the result says which readings it used and when.

Turner's "night" runs from one hour before sunset to one hour after sunrise (EPA-454/R-99-005,
section 6.4.1); it is decided here from the sun's altitude an hour either side of the time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

from sim import stability
from sim.mesh import haversine_m

HOUR = dt.timedelta(hours=1)
STATION_FIELDS = ("lat", "lng", "wind_speed_m_s", "wind_from_deg", "cloud_tenths")


@dataclass(frozen=True)
class LiveWeather:
    """The wind and stability a what-if uses, and where and when they were read."""

    wind_from_deg: float
    wind_speed_m_s: float
    stability: str
    method: str  # how the stability class was found
    station_lat: float
    station_lng: float
    distance_m: float
    as_of: float  # unix seconds of the readings

    def record(self) -> dict:
        """What goes into the result: the values and where/when they came from."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def is_night(lat: float, lng: float, when: dt.datetime) -> bool:
    """Turner's night: from one hour before sunset to one hour after sunrise."""
    return min(stability.solar_altitude_deg(lat, lng, when + shift)
               for shift in (-HOUR, dt.timedelta(0), HOUR)) <= 0.0


def at_point(stations: dict, lat: float, lng: float) -> LiveWeather | None:
    """The weather at (lat, lng) from `stations` ({field: [...]} of STATION_FIELDS and `as_of`,
    unix seconds); None when no station reports both wind speed and direction."""
    missing = [f for f in STATION_FIELDS if f not in stations]
    if missing:
        raise ValueError(f"weather stations lack {', '.join(missing)}: give every field of "
                         f"{', '.join(STATION_FIELDS)}")
    cols = {f: np.asarray(stations[f], dtype=float) for f in STATION_FIELDS}
    usable = np.flatnonzero(np.isfinite(cols["wind_speed_m_s"]) & np.isfinite(cols["wind_from_deg"]))
    if not len(usable):
        return None
    dist = haversine_m(lat, lng, cols["lat"][usable], cols["lng"][usable])
    nearest = int(np.argmin(dist))
    k = usable[nearest]
    as_of = float(stations["as_of"])
    when = dt.datetime.fromtimestamp(as_of, dt.UTC)
    speed, cloud = float(cols["wind_speed_m_s"][k]), float(cols["cloud_tenths"][k])
    if np.isfinite(cloud):
        night = is_night(lat, lng, when)
        altitude = None if night else stability.solar_altitude_deg(lat, lng, when)
        cls = stability.turner(speed, night=night, cloud_tenths=min(max(cloud, 0.0), 10.0),
                               solar_altitude_deg=altitude)
        method = "turner"
    else:  # no cloud reading: the neutral class, said so
        cls, method = "D", "neutral (no cloud reading at the station)"
    return LiveWeather(float(cols["wind_from_deg"][k]) % 360.0, speed, cls, method,
                       float(cols["lat"][k]), float(cols["lng"][k]),
                       float(dist[nearest]), as_of)
