"""Toxic release: steady Gaussian plume, Pasquill-Gifford stability, AEGL zones on the twin.

Formulation: the Gaussian plume with total ground reflection (Turner, D. B. (1994), Workbook of
Atmospheric Dispersion Estimates, 2nd ed., eq. 2.1) evaluated at ground level:

    C(x, y, 0) = Q / (pi u sigma_y sigma_z) * exp(-y^2 / 2 sigma_y^2) * exp(-H^2 / 2 sigma_z^2)

Dispersion coefficients for Pasquill-Gifford classes A-F, two sets:
- "briggs": Briggs (1973) formulas for open-country (rural) and urban terrain, as tabulated by
  Hanna, Briggs & Hosker (1982), Handbook on Atmospheric Diffusion, table 4.5;
- "pg": the P-G curves as fitted in the US EPA ISC3 model (User's Guide vol. II, EPA-454/B-95-003b,
  1995, eqs. 1-33/1-34, tables 1-1 and 1-2); rural only.

Concentration -> ppm at 25 degC and 1 atm (ppm = mg/m^3 * 24.45 / MW), then the US EPA Acute
Exposure Guideline Levels (AEGL, 60-minute values, National Research Council / EPA AEGL program)
give three zones: AEGL-1 (discomfort), AEGL-2 (irreversible or escape-impairing effects),
AEGL-3 (life-threatening).
"""

from __future__ import annotations

import numpy as np

from sim.mesh import EARTH_RADIUS_M

STABILITY = ("A", "B", "C", "D", "E", "F")
MOLAR_VOLUME_L = 24.45  # litres per mole at 25 degC, 101.325 kPa

# name: (molecular weight g/mol, AEGL-1, AEGL-2, AEGL-3 in ppm, 60-minute; nan = not recommended)
CHEMICALS = {
    "chlorine": (70.90, 0.50, 2.0, 20.0),
    "ammonia": (17.03, 30.0, 160.0, 1100.0),
    "hydrogen_sulfide": (34.08, 0.51, 27.0, 50.0),
    "hydrogen_chloride": (36.46, 1.8, 22.0, 100.0),
    "hydrogen_fluoride": (20.01, 1.0, 24.0, 44.0),
    "sulfur_dioxide": (64.07, 0.20, 0.75, 27.0),
    "hydrogen_cyanide": (27.03, 2.0, 7.1, 15.0),
    "phosgene": (98.92, np.nan, 0.30, 0.75),
    "carbon_monoxide": (28.01, np.nan, 83.0, 330.0),
    "benzene": (78.11, 52.0, 800.0, 4000.0),
}
# Where each row's AEGLs are published: National Research Council, "Acute Exposure Guideline
# Levels for Selected Airborne Chemicals", volume (year), the chemical's chapter and its summary
# table of AEGL values (the US EPA AEGL program's final values). Re-checked here: the volume and
# chapter of every row; for sulfur dioxide the AEGL-1 (0.20 ppm) and AEGL-2 (0.75 ppm) rows of its
# summary table (vol. 8, ch. 9, pp. 393-448, table on p. 397). Its 60-minute AEGL-3 is 27 ppm in
# the EPA's table of final values (42/32/27/19/16 ppm for 10 min-8 h); 30 ppm, the value used
# before, matches no duration of it. The other numbers are the EPA table as known to the author
# and could not be displayed by the tools of this review: re-check them against the volumes.
AEGL_SOURCES = {
    "chlorine": "NRC vol. 4 (2004), ch. 'Chlorine'",
    "ammonia": "NRC vol. 6 (2008), ch. 2",
    "hydrogen_sulfide": "NRC vol. 9 (2010), ch. 'Hydrogen sulfide'",
    "hydrogen_chloride": "NRC vol. 4 (2004), ch. 'Hydrogen chloride'",
    "hydrogen_fluoride": "NRC vol. 4 (2004), ch. 'Hydrogen fluoride'",
    "sulfur_dioxide": "NRC vol. 8 (2010), ch. 9, table on p. 397",
    "hydrogen_cyanide": "NRC vol. 2 (2002), ch. 'Hydrogen cyanide'",
    "phosgene": "NRC vol. 1 (2000), ch. 'Phosgene'",
    "carbon_monoxide": "NRC vol. 8 (2010), ch. 'Carbon monoxide'",
    "benzene": "EPA AEGL program table (interim or final status not re-checked)",
}

# Briggs (1973): sigma = a x (1 + b x)^c, x in m. (ay, by, cy, az, bz, cz)
_BRIGGS = {
    "rural": {"A": (0.22, 1e-4, -0.5, 0.20, 0.0, 0.0), "B": (0.16, 1e-4, -0.5, 0.12, 0.0, 0.0),
              "C": (0.11, 1e-4, -0.5, 0.08, 2e-4, -0.5), "D": (0.08, 1e-4, -0.5, 0.06, 1.5e-3, -0.5),
              "E": (0.06, 1e-4, -0.5, 0.03, 3e-4, -1.0), "F": (0.04, 1e-4, -0.5, 0.016, 3e-4, -1.0)},
    "urban": {"A": (0.32, 4e-4, -0.5, 0.24, 1e-3, 0.5), "B": (0.32, 4e-4, -0.5, 0.24, 1e-3, 0.5),
              "C": (0.22, 4e-4, -0.5, 0.20, 0.0, 0.0), "D": (0.16, 4e-4, -0.5, 0.14, 3e-4, -0.5),
              "E": (0.11, 4e-4, -0.5, 0.08, 1.5e-3, -0.5),
              "F": (0.11, 4e-4, -0.5, 0.08, 1.5e-3, -0.5)},
}

# ISC3 P-G sigma_y: 465.11628 x tan(0.017453293 (c - d ln x)), x in km
_ISC3_Y = {"A": (24.1670, 2.5334), "B": (18.3330, 1.8096), "C": (12.5000, 1.0857),
           "D": (8.3330, 0.72382), "E": (6.2500, 0.54287), "F": (4.1667, 0.36191)}
# ISC3 P-G sigma_z = a x^b (x in km), by distance range: (upper bound km, a, b)
_ISC3_Z = {
    "A": ((0.10, 122.800, 0.94470), (0.15, 158.080, 1.05420), (0.20, 170.220, 1.09320),
          (0.25, 179.520, 1.12620), (0.30, 217.410, 1.26440), (0.40, 258.890, 1.40940),
          (0.50, 346.750, 1.72830), (3.11, 453.850, 2.11660), (np.inf, 453.850, 2.11660)),
    "B": ((0.20, 90.673, 0.93198), (0.40, 98.483, 0.98332), (np.inf, 109.300, 1.09710)),
    "C": ((np.inf, 61.141, 0.91465),),
    "D": ((0.30, 34.459, 0.86974), (1.00, 32.093, 0.81066), (3.00, 32.093, 0.64403),
          (10.0, 33.504, 0.60486), (30.0, 36.650, 0.56589), (np.inf, 44.053, 0.51179)),
    "E": ((0.10, 24.260, 0.83660), (0.30, 23.331, 0.81956), (1.00, 21.628, 0.75660),
          (2.00, 21.628, 0.63077), (4.00, 22.534, 0.57154), (10.0, 24.703, 0.50527),
          (20.0, 26.970, 0.46713), (40.0, 35.420, 0.37615), (np.inf, 47.618, 0.29592)),
    "F": ((0.20, 15.209, 0.81558), (0.70, 14.457, 0.78407), (1.00, 13.953, 0.68465),
          (2.00, 13.953, 0.63227), (3.00, 14.823, 0.54503), (7.00, 16.187, 0.46490),
          (15.0, 17.836, 0.41507), (30.0, 22.651, 0.32681), (60.0, 27.074, 0.27436),
          (np.inf, 34.219, 0.21716)),
}
SIGMA_Z_MAX_M = 5000.0  # ISC3 caps sigma_z


def _check(stability: str, terrain: str, sigma: str) -> str:
    s = str(stability).upper()
    if s not in STABILITY:
        raise ValueError(f"stability must be a Pasquill-Gifford class A-F, got {stability!r}")
    if terrain not in ("rural", "urban"):
        raise ValueError(f"terrain must be 'rural' or 'urban', got {terrain!r}")
    if sigma not in ("briggs", "pg"):
        raise ValueError(f"sigma must be 'briggs' (Briggs 1973) or 'pg' (ISC3 P-G), got {sigma!r}")
    if sigma == "pg" and terrain == "urban":
        raise ValueError("sigma='pg' (ISC3 P-G curves) is rural only: use sigma='briggs' for "
                         "terrain='urban'")
    return s


def sigmas(x_m, *, stability: str, terrain: str = "rural",
           sigma: str = "briggs") -> tuple[np.ndarray, np.ndarray]:
    """(sigma_y, sigma_z) in metres at downwind distances x_m > 0 (vectorised)."""
    s = _check(stability, terrain, sigma)
    x = np.asarray(x_m, dtype=float)
    if sigma == "briggs":
        ay, by, cy, az, bz, cz = _BRIGGS[terrain][s]
        return ay * x * (1 + by * x) ** cy, az * x * (1 + bz * x) ** cz
    xk = np.maximum(x, 1e-6) / 1000.0
    c, d = _ISC3_Y[s]
    sy = 465.11628 * xk * np.tan(0.017453293 * (c - d * np.log(xk)))
    table = np.array(_ISC3_Z[s])
    k = np.minimum(np.searchsorted(table[:, 0], xk, side="left"), len(table) - 1)
    sz = np.minimum(table[k, 1] * xk ** table[k, 2], SIGMA_Z_MAX_M)
    return sy, sz


def ground_concentration(q_g_s, u_m_s, x_m, y_m=0.0, *, stability: str, terrain: str = "rural",
                         sigma: str = "briggs", release_height_m: float = 0.0) -> np.ndarray:
    """Ground-level concentration (g/m^3) at downwind x, crosswind y (m); 0 upwind (x <= 0)."""
    u = np.asarray(u_m_s, dtype=float)
    if (u <= 0).any():
        raise ValueError("u_m_s (wind speed) must be positive; the plume model needs wind >= 1 m/s")
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    down = x > 0
    xs = np.where(down, x, 1.0)
    sy, sz = sigmas(xs, stability=stability, terrain=terrain, sigma=sigma)
    c = (np.asarray(q_g_s, dtype=float) / (np.pi * u * sy * sz) * np.exp(-0.5 * (y / sy) ** 2)
         * np.exp(-0.5 * (release_height_m / sz) ** 2))
    return np.where(down, c, 0.0)


def to_ppm(c_g_m3, molecular_weight: float) -> np.ndarray:
    """g/m^3 -> ppm by volume at 25 degC, 1 atm."""
    return np.asarray(c_g_m3) * 1000.0 * MOLAR_VOLUME_L / molecular_weight


def chemical(name: str) -> tuple[float, np.ndarray]:
    """(molecular weight, AEGL-1/2/3 ppm) of a chemical in `CHEMICALS`."""
    key = name.lower().replace(" ", "_").replace("-", "_")
    if key not in CHEMICALS:
        raise ValueError(f"unknown chemical {name!r}: choose one of {', '.join(CHEMICALS)}")
    mw, *aegl = CHEMICALS[key]
    return mw, np.array(aegl)


def aegl_level(ppm, name: str) -> np.ndarray:
    """0 (below AEGL-1) .. 3 (at or above AEGL-3) per value; 'not recommended' levels skipped."""
    _, aegl = chemical(name)
    ppm = np.asarray(ppm, dtype=float)
    level = np.zeros(ppm.shape, dtype=np.int8)
    for k, threshold in enumerate(aegl, start=1):
        if np.isfinite(threshold):
            level[ppm >= threshold] = k
    return level


def downwind_coordinates(lat, lng, lat0: float, lng0: float,
                         wind_from_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(x downwind, y crosswind) metres of points from a source, for a wind blowing FROM a bearing.

    Local equirectangular projection about the source (error < 0.1 % within ~20 km).
    """
    east = np.radians(np.asarray(lng) - lng0) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
    north = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
    to = np.radians((wind_from_deg + 180.0) % 360.0)  # direction the plume travels
    ex, ny = np.sin(to), np.cos(to)
    return east * ex + north * ny, -east * ny + north * ex


def on_cells(lat, lng, *, source_lat: float, source_lng: float, chemical_name: str,
             release_g_s: float, wind_from_deg: float, wind_speed_m_s: float, stability: str,
             terrain: str = "rural", sigma: str = "briggs",
             release_height_m: float = 0.0, source_index: int | None = None) -> dict:
    """Concentration (g/m^3), ppm, AEGL level and downwind distance at cell centres.

    `source_index`: the cell holding the release, given the value 10 m downwind on the axis.
    """
    x, y = downwind_coordinates(lat, lng, source_lat, source_lng, wind_from_deg)
    if source_index is not None:
        x[source_index], y[source_index] = 0.0, 0.0
    # cells within 10 m downwind (the source cell itself) take the value at 10 m
    c = ground_concentration(release_g_s, wind_speed_m_s, np.maximum(x, 10.0) * (x > -1e-6),
                             y, stability=stability, terrain=terrain, sigma=sigma,
                             release_height_m=release_height_m)
    mw, _ = chemical(chemical_name)
    ppm = to_ppm(c, mw)
    return {"c_g_m3": c, "ppm": ppm, "aegl": aegl_level(ppm, chemical_name), "x_m": x}
