"""Pasquill-Gifford stability class from weather readings, for plumes started from live weather.

Two keys from the US EPA's Meteorological Monitoring Guidance for Regulatory Modeling
Applications (EPA-454/R-99-005, 2000), section 6.4:

- Turner's method (Turner, D. B. (1964), "A diffusion model for an urban area", J. Appl. Meteor.
  3, 83-91), section 6.4.1: a net radiation index from the solar altitude (table 6-5, insolation
  classes), total cloud cover and ceiling (table 6-6, the procedure), then the class from wind
  speed and that index (table 6-4, given in knots with m/s ranges);
- the solar radiation / delta-T (SRDT) method, section 6.4.2, table 6-7: the class from wind
  speed and measured solar radiation by day, the vertical temperature difference by night.

Turner's class 7 (G) is merged into 6 (F), as the guidance does for regulatory modelling.
The solar altitude comes from the sun's declination and the equation of time in the Fourier
series of Spencer, J. W. (1971), "Fourier series representation of the position of the sun",
Search 2(5), 172.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

CLASSES = "ABCDEF"
FT_M = 0.3048
# table 6-4: upper bounds of the wind rows in m/s (0-0.7, 0.8-1.8, ..., 5.5-5.9, >= 6.0), split
# halfway between the printed bounds
_WIND_ROWS_M_S = (0.75, 1.85, 2.85, 3.35, 3.85, 4.85, 5.45, 5.95)
# table 6-4: class number 1-7 per wind row (rows) and net radiation index 4, 3, ..., -2 (columns)
_TURNER = np.array([[1, 1, 2, 3, 4, 6, 7], [1, 2, 2, 3, 4, 6, 7], [1, 2, 3, 4, 4, 5, 6],
                    [2, 2, 3, 4, 4, 5, 6], [2, 2, 3, 4, 4, 4, 5], [2, 3, 3, 4, 4, 4, 5],
                    [3, 3, 4, 4, 4, 4, 5], [3, 3, 4, 4, 4, 4, 4], [3, 4, 4, 4, 4, 4, 4]])
# table 6-7 (daytime): rows wind < 2, 2-3, 3-5, 5-6, >= 6 m/s; columns radiation >= 925,
# 675-925, 175-675, < 175 W/m^2
_SRDT_DAY = ("AABD", "ABCD", "BBCD", "CCDD", "CDDD")
# table 6-7 (night): rows wind < 2, 2-2.5, >= 2.5 m/s; columns delta-T < 0, >= 0
_SRDT_NIGHT = ("EF", "DE", "DD")


def insolation_class(solar_altitude_deg: float) -> int:
    """Table 6-5: 4 (strong, > 60 deg), 3 (35-60), 2 (15-35), 1 (weak, <= 15)."""
    return 1 + int(np.searchsorted([15.0, 35.0, 60.0], solar_altitude_deg, side="left"))


def net_radiation_index(*, night: bool, cloud_tenths: float, ceiling_m: float | None,
                        solar_altitude_deg: float | None = None) -> int:
    """Table 6-6: the net radiation index, -2 (clear night) .. 4 (strong sun, few clouds).

    `night`: from one hour before sunset to one hour after sunrise; `ceiling_m`: the cloud
    ceiling (None: no ceiling, unlimited).
    """
    if not 0 <= cloud_tenths <= 10:
        raise ValueError(f"cloud_tenths must be the total cloud cover in tenths 0-10, got "
                         f"{cloud_tenths}")
    ceiling_ft = np.inf if ceiling_m is None else ceiling_m / FT_M
    if cloud_tenths >= 10 and ceiling_ft < 7000:
        return 0
    if night:
        return -2 if cloud_tenths <= 4 else -1
    if solar_altitude_deg is None:
        raise ValueError("solar_altitude_deg is needed by day (see solar_altitude_deg())")
    index = insolation_class(solar_altitude_deg)
    if cloud_tenths > 5:
        index -= 2 if ceiling_ft < 7000 else (1 if ceiling_ft < 16000 else 0)
        index -= 1 if cloud_tenths >= 10 else 0
        index = max(index, 1)
    return index


def turner(wind_speed_m_s: float, *, night: bool, cloud_tenths: float,
           ceiling_m: float | None = None, solar_altitude_deg: float | None = None) -> str:
    """Pasquill-Gifford class A-F by Turner's method (table 6-4 from table 6-6's index)."""
    if wind_speed_m_s < 0:
        raise ValueError(f"wind_speed_m_s must not be negative, got {wind_speed_m_s}")
    index = net_radiation_index(night=night, cloud_tenths=cloud_tenths, ceiling_m=ceiling_m,
                                solar_altitude_deg=solar_altitude_deg)
    row = int(np.searchsorted(_WIND_ROWS_M_S, wind_speed_m_s, side="right"))
    number = min(int(_TURNER[row, 4 - index]), 6)  # G (7) counts as F (6)
    return CLASSES[number - 1]


def srdt(wind_speed_m_s: float, *, night: bool, solar_w_m2: float | None = None,
         delta_t_k: float | None = None) -> str:
    """Pasquill-Gifford class by the solar radiation / delta-T method (table 6-7).

    By day `solar_w_m2` (total solar radiation); by night `delta_t_k`, the vertical temperature
    difference (upper minus lower level; < 0 is a lapse, >= 0 an inversion).
    """
    if night:
        if delta_t_k is None:
            raise ValueError("delta_t_k (vertical temperature difference) is needed by night")
        row = int(np.searchsorted([2.0, 2.5], wind_speed_m_s, side="right"))
        return _SRDT_NIGHT[row][0 if delta_t_k < 0 else 1]
    if solar_w_m2 is None:
        raise ValueError("solar_w_m2 (total solar radiation) is needed by day")
    row = int(np.searchsorted([2.0, 3.0, 5.0, 6.0], wind_speed_m_s, side="right"))
    col = 3 - int(np.searchsorted([175.0, 675.0, 925.0], solar_w_m2, side="right"))
    return _SRDT_DAY[row][col]


def solar_altitude_deg(lat: float, lng: float, when: dt.datetime) -> float:
    """The sun's altitude above the horizon (degrees) at a place and an aware UTC time.

    Declination and equation of time from Spencer (1971); the hour angle from the true solar
    time. Good to about 0.5 degree, ample for the insolation classes' 15-degree steps.
    """
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc))")
    utc = when.astimezone(dt.UTC)
    gamma = 2 * np.pi / 365 * (utc.timetuple().tm_yday - 1 + (utc.hour - 12) / 24)
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma)
            - 0.006758 * np.cos(2 * gamma) + 0.000907 * np.sin(2 * gamma)
            - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eot_min = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                        - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    minutes = utc.hour * 60 + utc.minute + utc.second / 60 + eot_min + 4 * lng
    hour_angle = np.radians(minutes / 4 - 180)
    phi = np.radians(lat)
    sin_alt = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return float(np.degrees(np.arcsin(np.clip(sin_alt, -1.0, 1.0))))
