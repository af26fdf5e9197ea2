"""`cityops sim run | impact | compare | ensemble`: what-if scenarios from the command line.

Only argparse is imported at the top; the simulation stack loads inside the handlers.
"""

from __future__ import annotations

import argparse

from dashboard.commands.common import (
    CliError,
    add_twin_args,
    check_output,
    load_twin,
    print_json,
    progress,
)

RESULT_SUFFIXES = (".nc",)  # results are netCDF files


def register(subparsers) -> None:
    """Add the `sim` command group."""
    parser = subparsers.add_parser("sim", help="run, summarise and compare what-if scenarios",
                                   description="Run what-if scenarios (flood, toxic release, "
                                   "explosion, epidemic, evacuation) on a twin.")
    sub = parser.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run a scenario file and write the result (netCDF)")
    run.add_argument("scenario", metavar="FILE", help="a scenario YAML/JSON file")
    add_twin_args(run)
    run.add_argument("--out", required=True, metavar="RESULT.nc", help="result file to write")
    run.add_argument("--live", metavar="JSON", help="current readings (see sim.LIVE_KEYS) as a "
                     "JSON file")
    run.set_defaults(func=_run)
    impact = sub.add_parser("impact", help="print the impact summary of a result")
    impact.add_argument("result", metavar="RESULT.nc")
    impact.set_defaults(func=_impact)
    compare = sub.add_parser("compare", help="compare the impact of two results (B - A)")
    compare.add_argument("a", metavar="A.nc")
    compare.add_argument("b", metavar="B.nc")
    compare.set_defaults(func=_compare)
    ens = sub.add_parser("ensemble", help="run many members over uncertain parameters on dask")
    ens.add_argument("scenario", metavar="FILE", help="a scenario YAML/JSON file")
    add_twin_args(ens)
    ens.add_argument("--members", type=int, required=True, metavar="N")
    ens.add_argument("--vary", action="append", required=True, metavar="PARAM=KIND:A,B",
                     help="e.g. rain_mm_h=uniform:40,120 or wind_from_deg=normal:45,15 "
                          "(kinds: uniform, normal, lognormal, triangular, choice); repeatable")
    ens.add_argument("--scheduler", metavar="ADDR", help="an existing dask scheduler "
                     "(default: a 2-worker local cluster)")
    ens.add_argument("--seed", type=int, default=0)
    ens.add_argument("--out", metavar="ENSEMBLE.nc", help="write the ensemble Dataset here")
    ens.set_defaults(func=_ensemble)


def _load_scenario(path: str):
    from sim import Scenario, ScenarioError

    try:
        return Scenario.load(path)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None


def _bar(desc: str):
    bar = progress(100, desc, unit="%")

    def update(fraction: float) -> None:
        bar.update(max(round(100 * fraction) - bar.n, 0))

    return bar, update


def _run(args: argparse.Namespace) -> int:
    import json

    from sim import ScenarioError, run

    check_output(args.out, "--out", RESULT_SUFFIXES)
    scenario = _load_scenario(args.scenario)
    live = None
    if args.live:
        try:
            with open(args.live, encoding="utf-8") as f:
                live = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise CliError(f"--live {args.live}: not a readable JSON file ({exc})") from None
    twin = load_twin(args)
    bar, update = _bar(scenario.name)
    try:
        result = run(scenario, twin, live=live, progress=update)
    except (ScenarioError, ValueError) as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    result.to_netcdf(args.out)
    print_json(_headline(result.impact) | {"out": args.out})
    return 0


def _headline(impact: dict) -> dict:
    from sim import hazards

    figures = [f.key for f in hazards.get(impact["hazard"]).figures]
    keys = ("name", "hazard", "people_affected", "people_by_severity", *figures)
    out = {k: impact[k] for k in keys if k in impact}
    out["facilities_affected"] = len(impact.get("facilities", []))
    out["roads_cut_cells"] = impact.get("roads_cut", {}).get("cells", 0)
    return out


def _read(path: str):
    from sim import Result, ScenarioError

    try:
        return Result.from_netcdf(path)
    except FileNotFoundError:
        raise CliError(f"no such result file: {path}") from None
    except (ScenarioError, ValueError, OSError) as exc:
        raise CliError(f"{path}: {exc}") from None


def _impact(args: argparse.Namespace) -> int:
    print_json(_read(args.result).impact)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.impact import compare

    a, b = _read(args.a), _read(args.b)
    if a.ds.sizes["cell"] != b.ds.sizes["cell"] or not (
            a.ds["cell_ids"].values == b.ds["cell_ids"].values).all():
        raise CliError("the two results are on different twins (cell_ids differ): compare "
                       "results run on the same twin")
    try:
        print_json(compare(a.impact, b.impact))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def parse_vary(items: list[str]) -> dict:
    """`PARAM=KIND:A,B` strings -> {param: {kind: [A, B]}}."""
    out = {}
    for item in items:
        name, sep, spec = item.partition("=")
        kind, sep2, args = spec.partition(":")
        if not (sep and sep2 and name and args):
            raise CliError(f"--vary {item!r}: use PARAM=KIND:A,B, e.g. rain_mm_h=uniform:40,120")
        try:
            values = [float(a) for a in args.split(",")]
        except ValueError:
            raise CliError(f"--vary {item!r}: the arguments must be numbers") from None
        out[name.strip()] = {kind.strip(): values}
    return out


def _ensemble(args: argparse.Namespace) -> int:
    from sim import ScenarioError, ensemble

    if args.out:
        check_output(args.out, "--out", RESULT_SUFFIXES)
    scenario = _load_scenario(args.scenario)
    vary = parse_vary(args.vary)
    twin = load_twin(args)
    bar, update = _bar(f"{scenario.name} x{args.members}")
    try:
        ds = ensemble.run(scenario, twin, vary, args.members, client=args.scheduler,
                          seed=args.seed, progress=update)
    except (ScenarioError, ValueError) as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    if args.out:
        from twin import netcdf

        netcdf.write(ds, args.out)  # CF-1.10 + xdggs, like every cell file
    people = ds["people_affected"].values
    print_json({"scenario": scenario.name, "members": args.members,
                "people_affected": {"mean": float(people.mean()), "min": float(people.min()),
                                    "max": float(people.max())},
                "cells_exceeding_half": {str(lab): int((ds["exceedance"].values[k] >= 0.5).sum())
                                         for k, lab in enumerate(ds["threshold_label"].values)},
                "out": args.out})
    return 0
