"""The outside clients the suite checks our outputs with: IOOS compliance-checker, xdggs,
GDAL's ogrinfo. Under CI (CI=true) a missing tool fails the test instead of skipping it."""

from __future__ import annotations

import importlib
import os
import shutil

import numpy as np
import pytest

# xdggs forbids every attribute on `cell_ids` but grid_name and level (H3Info rejects even
# `long_name`), while the CF checker recommends a long_name on every coordinate: the one
# message the two conventions make unavoidable.
XDGGS_CELL_IDS = "Attribute long_name or/and standard_name is highly recommended for variable " \
                 "cell_ids"


def need(module: str):
    """Import an outside client; skip without it, fail under CI."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed: pip install -e '.[test]'")
        pytest.skip(f"{module} is not installed")


def need_program(name: str, package: str) -> str:
    """The path of an outside program; skip without it, fail under CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed: apt-get install {package}")
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def cf_errors(path) -> list[str]:
    """The messages of every failed high-priority (error) check of compliance-checker cf:1.10."""
    need("compliance_checker")
    from compliance_checker.base import BaseCheck
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    groups, errors = suite.run_all(suite.load_dataset(str(path)), ["cf:1.10"], skip_checks=[])[
        "cf:1.10"]
    assert not errors, f"compliance-checker could not run: {errors}"
    out = []
    for result in groups:
        score, out_of = result.value if isinstance(result.value, tuple) else \
            (int(bool(result.value)), 1)
        if result.weight == BaseCheck.HIGH and score < out_of:
            out += [m for m in result.msgs if m != XDGGS_CELL_IDS]
    return out


def xdggs_centres(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open a file as a user would and decode it with xdggs: (cell ids, lat, lon) of the
    centres xdggs computes."""
    need("xdggs")
    import xarray as xr
    import xdggs

    with xr.open_dataset(path) as ds:
        decoded = xdggs.decode(ds)
        centres = decoded.dggs.cell_centers()
        return (decoded["cell_ids"].values, centres["latitude"].values,
                centres["longitude"].values)


def people_seen(n: int, counts: dict[int, float]):
    """A minute's bucket (layers.live.state.Sparse) with people seen: {cell position: count}."""
    from layers.live import schema as S
    from layers.live.state import Sparse

    channel = S.SUM_INDEX["video.person.count"]
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0)
    return Sparse(np.array([channel * n + p for p in sorted(counts)], np.int64),
                  np.array([float(counts[p]) for p in sorted(counts)]),
                  none_i, none_f, none_i, none_f, none_f)
