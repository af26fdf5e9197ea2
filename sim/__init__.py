"""sim: what-if simulations on twin cells (flood, toxic release, explosion, epidemic, evacuation).

Pure numpy/xarray (+ numba for the flood kernel): no Redis, no UI. `Scenario` is the spec,
`run(scenario, twin)` the entry point, `sim.ensemble.run` the many-member version on dask;
`sim.hazards` is the registry every hazard declares itself in (HAZARDS: their names).
"""

from sim.hazards import names as _hazard_names
from sim.runner import LIVE_KEYS, Result, run
from sim.scenario import Scenario, ScenarioError

HAZARDS = _hazard_names()

__all__ = ["Scenario", "ScenarioError", "Result", "run", "HAZARDS", "LIVE_KEYS"]
