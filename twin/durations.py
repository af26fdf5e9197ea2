"""Durations written by people: one parser for rule files, scenarios and the dashboard's forms.

A duration is a number of seconds or a string with a unit: '90s', '10m', '30min', '1.5h',
'14d'. Every part of the product (rules, scenarios, forms, CLI flags) reads them through
`parse_duration`, so the same text always means the same number of seconds.
"""

from __future__ import annotations

import re

UNITS: dict[str, float] = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_PATTERN = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*")


def parse_duration(value, allow_zero: bool = True) -> float:
    """Seconds from a number (seconds) or a string like '90s', '10m', '30min', '6h', '14d'.

    Raises ValueError naming the value and the accepted forms; negative durations are refused,
    and zero too when `allow_zero` is false.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: use seconds or e.g. '30s', '10m', '6h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _PATTERN.fullmatch(str(value).lower())
        if not m or m.group(2) not in ("", *UNITS):
            raise ValueError(f"{value!r} is not a duration: use seconds or e.g. '30s', '10m', "
                             f"'30min', '6h', '14d'")
        seconds = float(m.group(1)) * UNITS.get(m.group(2) or "s", 1.0)
    if not seconds == seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"durations must be {'non-negative' if allow_zero else 'positive'}, "
                         f"got {value!r}")
    return seconds


def in_unit(seconds: float, unit: str) -> float:
    """A duration in seconds expressed in `unit` (one of UNITS), e.g. for a form field."""
    if unit not in UNITS:
        raise ValueError(f"unknown duration unit {unit!r}: use one of s, min, h, d")
    return seconds / UNITS[unit]
