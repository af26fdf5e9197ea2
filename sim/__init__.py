"""sim: what-if simulations on twin cells (flood, toxic release, explosion, epidemic, evacuation).

Pure numpy/xarray (+ numba for the flood kernel): no Redis, no UI. `Scenario` is the spec,
`run(scenario, twin)` the entry point, `sim.ensemble.run` the many-member version on dask.
"""

from sim.runner import LIVE_KEYS, Result, run
from sim.scenario import HAZARDS, Scenario, ScenarioError

__all__ = ["Scenario", "ScenarioError", "Result", "run", "HAZARDS", "LIVE_KEYS"]
