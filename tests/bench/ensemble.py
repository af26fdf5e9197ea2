"""Ensemble speed-up: 16 flood members on a 2-worker local dask cluster vs one after another.

Both sides run the same members (a rainstorm with uncertain intensity and Manning's n) with
warm numba caches; the cluster is started before timing. On 2 cores the ceiling is 2x.
`--quick`: 8 members on a smaller twin.
"""

from __future__ import annotations

import numpy as np

from tests.bench._common import best_time, emit, parse_args


def twin_for(quick: bool):
    if not quick:
        try:
            from twin.demo import binhai

            return binhai(resolution=9), "binhai_r9"
        except Exception:  # noqa: BLE001 - the demo may be missing in this checkout
            pass
    from twin.testing import small_twin

    return small_twin(resolution=10), "small_twin_r10"


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    from dask.distributed import Client, LocalCluster

    from sim import Scenario, ensemble

    twin, label = twin_for(args.quick)
    members = 8 if args.quick else 16
    lat, lng = (float(np.mean(c)) for c in twin.centers)
    scenario = Scenario.parse({
        "name": "bench ensemble", "hazard": "flood", "location": {"lat": lat, "lng": lng},
        "duration": "6h", "output_every": "30min",
        "parameters": {"rain_mm_h": 60, "drainage_mm_h": 20}})
    vary = {"rain_mm_h": {"uniform": [40, 120]}, "manning_n": {"uniform": [0.03, 0.08]}}
    values = ensemble.sample(vary, members, seed=0)
    per_member = [{k: float(v[m]) for k, v in values.items()} for m in range(members)]
    text = scenario.model_dump_json()
    ensemble._member(text, per_member[0], twin, None)  # warm: numba compile/cache load

    def one_after_another():
        for m in range(members):
            ensemble._member(text, per_member[m], twin, None)

    sequential = best_time(one_after_another, repeat=2)  # best of 2: the machine is shared
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        ensemble.run(scenario, twin, vary, 2, client=client, seed=1)  # warm the workers
        parallel = best_time(lambda: ensemble.run(scenario, twin, vary, members, client=client,
                                                  seed=0), repeat=2)
    emit("ensemble", f"members_per_s_{members}_members_{label}_2_workers", members / parallel,
         "members/s", "the same members one after another in one process",
         members / sequential)


if __name__ == "__main__":
    main()
