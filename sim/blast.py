"""Explosion: peak incident overpressure of a hemispherical surface burst and damage zones.

Formulation: Hopkinson-Cranz scaling Z = R / W^(1/3) (m/kg^(1/3), W = TNT-equivalent mass) and
the Kingery & Bulmash (1984) curves for a hemispherical TNT surface burst (ARBRL-TR-02555), in the
polynomial-in-ln(Z) form of Swisdak, M. M. (1994), "Simplified Kingery airblast calculations",
Minutes of the 26th DoD Explosives Safety Seminar:

    P_so = exp(A + B ln Z + C ln^2 Z + D ln^3 Z + E ln^4 Z)  kPa, 0.2 <= Z <= 198.5

Damage zones are peak incident overpressures (ZONES, each with its source). The building-damage
rows are Clancey, V. J. (1972), "Diagnostic features of explosion damage", 6th International
Meeting of Forensic Sciences, Edinburgh: his damage table, given in psi and reproduced in CCPS
(2000), Guidelines for Chemical Process Quantitative Risk Analysis, 2nd ed., table 2.18 (the
table number and its page were not re-checked against the book here; the psi/kPa values were
checked against a reproduction of Clancey's table). Note that Clancey lists 0.5-1 psi
(3.4-6.9 kPa) as "large and small windows usually shattered" and 0.7 psi (4.8 kPa) as "minor
damage to house structures". The injury row is the threshold of lung damage for people in the
open, about 15 psi (103 kPa), from Glasstone, S. & Dolan, P. J. (1977), The Effects of Nuclear
Weapons, 3rd ed., ch. XII (direct blast injuries; its table of tentative criteria, 12.38, was
not re-checked here); eardrum rupture begins near 5 psi (34.5 kPa), the "severe damage" zone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

Z_MIN, Z_MAX = 0.2, 198.5
# (upper Z bound, A, B, C, D, E) for incident overpressure in kPa
_SWISDAK = ((2.9, 7.2106, -2.1069, -0.3229, 0.1117, 0.0685),
            (23.8, 7.5938, -3.0523, 0.40977, 0.0261, -0.01267),
            (Z_MAX, 6.0536, -1.4066, 0.0, 0.0, 0.0))



KPA_PER_PSI = 6.894757  # 1 psi in kPa (NIST SP 811, appendix B.8)


class Zone(NamedTuple):
    """A damage zone: overpressure >= its threshold (upper zones override lower ones)."""

    key: str
    psi: float  # the threshold as the source gives it
    description: str
    source: str

    @property
    def kpa(self) -> float:
        """The threshold in kPa, to the 0.1 kPa the sources print."""
        return round(self.psi * KPA_PER_PSI, 1)


_CLANCEY = "Clancey (1972) damage table (CCPS 2000, table 2.18)"
ZONES = (
    Zone("glass_breakage", 0.15, "typical pressure for glass breakage", _CLANCEY),
    Zone("minor_damage", 0.7, "minor damage to house structures", _CLANCEY),
    Zone("houses_uninhabitable", 1.0, "partial demolition of houses, made uninhabitable",
         _CLANCEY),
    Zone("partial_collapse", 2.0, "partial collapse of walls and roofs of houses", _CLANCEY),
    Zone("severe_damage", 5.0, "nearly complete destruction of houses (5-7 psi); eardrums of "
         "people in the open begin to rupture", _CLANCEY + "; Glasstone & Dolan (1977) ch. XII"),
    Zone("total_destruction", 10.0, "probable total destruction of buildings", _CLANCEY),
    Zone("lung_damage", 15.0, "threshold of lung damage to people in the open",
         "Glasstone & Dolan (1977) ch. XII"),
)


def scaled_distance(tnt_kg, distance_m) -> np.ndarray:
    """Hopkinson-Cranz scaled distance Z = R / W^(1/3) in m/kg^(1/3)."""
    w = np.asarray(tnt_kg, dtype=float)
    if (w <= 0).any():
        raise ValueError("tnt_kg must be a positive TNT-equivalent mass in kilograms")
    return np.asarray(distance_m, dtype=float) / np.cbrt(w)


def overpressure_kpa(tnt_kg, distance_m) -> np.ndarray:
    """Peak incident overpressure (kPa) of a hemispherical TNT surface burst (vectorised).

    Inside Z = 0.2 the value at 0.2 is returned (the fireball), beyond Z = 198.5 the far-field
    1/R acoustic decay continues the curve.
    """
    z = scaled_distance(tnt_kg, distance_m)
    zc = np.clip(z, Z_MIN, Z_MAX)
    u = np.log(zc)
    table = np.array(_SWISDAK)
    k = np.minimum(np.searchsorted(table[:, 0], zc, side="right"), len(table) - 1)
    a, b, c, d, e = (table[k, i] for i in range(1, 6))
    p = np.exp(a + u * (b + u * (c + u * (d + u * e))))
    return np.where(z > Z_MAX, p * Z_MAX / np.maximum(z, Z_MAX), p)


def zone_level(p_kpa) -> np.ndarray:
    """0 (below glass breakage) .. len(ZONES) per overpressure value."""
    p = np.asarray(p_kpa, dtype=float)
    return np.searchsorted(np.array([z.kpa for z in ZONES]), p, side="right").astype(np.int8)


def zone_radius_m(tnt_kg: float, p_kpa: float) -> float:
    """The distance at which the overpressure falls to `p_kpa` (bisection on the monotone curve)."""
    lo, hi = 0.2 * np.cbrt(tnt_kg), 1e3 * Z_MAX * np.cbrt(tnt_kg)
    for _ in range(200):
        mid = np.sqrt(lo * hi)
        if overpressure_kpa(tnt_kg, mid) > p_kpa:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(lo * hi))
