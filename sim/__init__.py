"""sim: what-if simulations on twin cells; pure numpy/xarray (no Redis, no UI)."""
