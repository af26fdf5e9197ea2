"""Ensembles: many members of a scenario over uncertain parameters, run on dask.distributed.

Each member is an ordinary `sim.run` with some parameters drawn from distributions; members run
on a dask cluster (a local one by default, or an existing scheduler by address) with the twin
scattered once to every worker. The result stacks each member's peak field along `member` and
gives, per cell, the share of members exceeding each severity threshold (the exceedance
probability, Monte Carlo estimate with standard error sqrt(p (1 - p) / members)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from sim.scenario import Scenario, ScenarioError

DISTRIBUTIONS = ("uniform [lo, hi]", "normal [mean, sd]", "lognormal [mu, sigma]",
                 "triangular [lo, mode, hi]", "choice [v1, v2, ...]")


def sample(vary: dict[str, Any], members: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Draw `members` values for each varied parameter (dict spec or an object with .rvs)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, dist in vary.items():
        if hasattr(dist, "rvs"):
            out[name] = np.asarray(dist.rvs(size=members, random_state=rng))
            continue
        if not (isinstance(dist, dict) and len(dist) == 1):
            raise ScenarioError(f"vary[{name!r}] must be one of {', '.join(DISTRIBUTIONS)} "
                                f"(e.g. {{'uniform': [40, 120]}}), got {dist!r}")
        (kind, args), = dist.items()
        draw = {"uniform": lambda a: rng.uniform(a[0], a[1], members),
                "normal": lambda a: rng.normal(a[0], a[1], members),
                "lognormal": lambda a: rng.lognormal(a[0], a[1], members),
                "triangular": lambda a: rng.triangular(a[0], a[1], a[2], members),
                "choice": lambda a: rng.choice(np.asarray(a), members)}.get(kind)
        if draw is None:
            raise ScenarioError(f"vary[{name!r}]: unknown distribution {kind!r}: use "
                                f"{', '.join(DISTRIBUTIONS)}")
        try:
            out[name] = draw(list(args))
        except (IndexError, TypeError, ValueError) as exc:
            raise ScenarioError(f"vary[{name!r}]: bad arguments {args!r} for {kind} ({exc})") \
                from None
    return out


def _member(scenario_json: str, values: dict, twin, live: dict | None):
    """Run one member; its peak field, people affected and severity thresholds."""
    from sim.runner import peak_field, run

    scenario = Scenario.model_validate_json(scenario_json).with_values(values)
    result = run(scenario, twin, live=live)
    name, peak, thresholds, labels = peak_field(result)
    return (name, np.asarray(peak, dtype=np.float32), thresholds, labels,
            float(result.impact["people_affected"]))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def run(scenario: Scenario, twin, vary: dict[str, Any], members: int, client=None,
        seed: int = 0, *, thresholds: list[float] | None = None, live: dict | None = None,
        progress: Callable[[float], None] | None = None) -> xr.Dataset:
    """Run an ensemble; Dataset with `peak (member, cell)` and `exceedance (threshold, cell)`.

    `client`: a dask.distributed Client, a scheduler address, or None for a 2-worker local
    cluster started and closed here.
    """
    if members < 1:
        raise ScenarioError(f"members must be at least 1, got {members}")
    values = sample(vary, members, seed)
    per_member = [{k: _plain(v[m]) for k, v in values.items()} for m in range(members)]
    scenario.with_values(per_member[0])  # fail fast on a bad parameter name or value
    from dask.distributed import Client, LocalCluster, as_completed

    own_cluster = own_client = None
    if client is None:
        own_cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(client, str):
        client = own_client = Client(client)
    try:
        twin_f = client.scatter(twin, broadcast=True, hash=False)
        text = scenario.model_dump_json()
        futures = [client.submit(_member, text, per_member[m], twin_f, live, pure=False)
                   for m in range(members)]
        index = {f.key: m for m, f in enumerate(futures)}
        results: list = [None] * members
        for done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = future.result()
            if progress is not None:
                progress(done / members)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    name, _, default_thresholds, labels, _ = results[0]
    cut = np.asarray(thresholds if thresholds is not None else default_thresholds, float)
    if thresholds is not None:
        labels = [f">{t:g}" for t in cut]
    peak = np.stack([r[1] for r in results])
    exceed = (peak[None, :, :] > cut[:, None, None]).mean(axis=1)
    coords = {"member": np.arange(members), "threshold": ("threshold", cut),
              "threshold_label": ("threshold", np.array(labels, dtype=object)),
              "cell_ids": ("cell", twin.cell_ids, dict(twin.ds["cell_ids"].attrs))}
    coords.update({k.replace(".", "__"): ("member", v) for k, v in values.items()})
    return xr.Dataset(
        {"peak": (("member", "cell"), peak, {"long_name": f"member peak of {name}"}),
         "exceedance": (("threshold", "cell"), exceed, {
             "units": "1", "long_name": "share of members whose peak exceeds the threshold"}),
         "people_affected": ("member", np.array([r[4] for r in results]))},
        coords=coords,
        attrs={"scenario": scenario.name, "hazard": scenario.hazard, "peak_variable": name,
               "members": members, "seed": seed, "scenario_json": scenario.model_dump_json(),
               "varied": ", ".join(vary)})
