"""Run-time checks of the flood solver: does this run oscillate?

An explicit scheme that goes unstable here does not blow up to infinity: the outflow limiter
keeps depths non-negative and mass exact, so a bad run looks plausible. Two footprints give it
away, and every run records both in its attrs (and a warning when either is clear):

- checkerboarding: the water surface zig-zags from cell to cell along a line of faces (the slope
  changes sign on consecutive in-line faces by more than ZIGZAG_M in deep water, where the bed
  does not zig-zag the same way), counted at every output time. Smooth flows change slope sign
  once per wave, not at every face.
- crest spills: water leaving a cell over a crest higher than the cell's energy head
  eta + u^2 / 2g (counted every step by the momentum kernel). Real water cannot do this, so
  a basin draining below its spill crest shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.mesh import Mesh

ZIGZAG_M = 0.01  # a surface zig-zag smaller than this is not counted
DEEP_M = 0.1  # only where all three cells hold at least this much water (not thin sheets)
ZIGZAG_SHARE = 0.02  # warn when this share of deep in-line face pairs zig-zags at one time
SPILL_TOL_M = 0.001  # energy head below the crest by more than this is a spill
SPILL_SHARE = 1e-4  # warn when spills exceed this share of the largest water volume


def zigzags(mesh: Mesh, h: np.ndarray) -> tuple[int, int, float]:
    """(zig-zagging face pairs, deep face pairs, largest zig-zag in m) of a depth field."""
    from sim import flood_kernels, flood_raster

    if mesh.grid_shape:  # a raster: rows and columns, no face tables built
        return flood_raster.zigzags(h, mesh.z_m, *mesh.grid_shape, DEEP_M, ZIGZAG_M)
    fa, fb = mesh.face_cells
    up, up_sign = mesh.face_axes[:2]
    return flood_kernels.zigzags(np.asarray(h, float), mesh.z_m, fa, fb, up, up_sign, DEEP_M,
                                 ZIGZAG_M)


def volume_m3(h: np.ndarray, area_m2: np.ndarray) -> float:
    """The water volume sum(h * area) in float64, without a float64 copy of a float32 `h`."""
    return float(np.einsum("i,i->", h, area_m2, dtype=np.float64, casting="safe"))


@dataclass
class Monitor:
    """Accumulates the checks over a run and writes them as attrs."""

    zigzag_pairs: int = 0
    zigzag_share: float = 0.0
    zigzag_m: float = 0.0
    spill_m3: float = 0.0
    volume_max_m3: float = 0.0

    def look(self, mesh: Mesh, h: np.ndarray) -> None:
        """Check one output time's depths (zig-zags only on meshes with `directions`)."""
        self.volume_max_m3 = max(self.volume_max_m3, volume_m3(h, mesh.area_m2))
        if mesh.directions is None:
            return
        zig, deep, size = zigzags(mesh, h)
        self.zigzag_pairs = max(self.zigzag_pairs, zig)
        self.zigzag_share = max(self.zigzag_share, zig / deep if deep else 0.0)
        self.zigzag_m = max(self.zigzag_m, size)

    def attrs(self) -> dict:
        """The checks for the result's attrs (netCDF-safe: numbers and strings)."""
        spill_share = self.spill_m3 / self.volume_max_m3 if self.volume_max_m3 > 0 else 0.0
        reasons = []
        if self.zigzag_share > ZIGZAG_SHARE:
            reasons.append(f"checkerboarding: {self.zigzag_share:.0%} of deep face pairs "
                           f"zig-zag, up to {self.zigzag_m:.2f} m")
        if spill_share > SPILL_SHARE:
            reasons.append(f"crest spills: {self.spill_m3:.3g} m3 ({spill_share:.2%} of the "
                           "water) left cells over crests above their energy head")
        return {"check_zigzag_pairs_max": self.zigzag_pairs,
                "check_zigzag_share_max": self.zigzag_share, "check_zigzag_m_max": self.zigzag_m,
                "check_crest_spill_m3": self.spill_m3, "check_crest_spill_share": spill_share,
                "oscillation_warning": int(bool(reasons)),
                "oscillation_reason": "; ".join(reasons)}
