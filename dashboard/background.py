"""Server-side state for long scenario runs: the background-callback manager and the result store.

Runs last seconds to minutes, so they go through a Dash background callback: a DiskcacheManager
whose cache lives under `$CITYOPS_HOME/dash-jobs` (created once per process, passed per callback,
so `create_app` needs no change). Results are big (time x cell), so they never travel to the
browser: `ResultStore` keeps the last few as NetCDF files under `$CITYOPS_HOME/scenario-runs`,
keyed by a run id; the browser holds only the ids.
"""

from __future__ import annotations

import os
import re
import uuid
from functools import lru_cache
from pathlib import Path

from sim import Result

KEEP_RUNS = 6
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")


def home() -> Path:
    """`$CITYOPS_HOME`, default `~/.local/share/cityops` (as the bus and the demo twin cache)."""
    return Path(os.environ.get("CITYOPS_HOME") or Path.home() / ".local" / "share" / "cityops")


@lru_cache(maxsize=1)
def manager():
    """The one DiskcacheManager of this process (its cache under `$CITYOPS_HOME/dash-jobs`)."""
    import diskcache
    from dash import DiskcacheManager

    folder = home() / "dash-jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(folder)))


class ResultStore:
    """The last `keep` scenario results as NetCDF files in a folder, keyed by run id."""

    def __init__(self, folder: str | os.PathLike | None = None, keep: int = KEEP_RUNS) -> None:
        self.folder = Path(folder) if folder is not None else home() / "scenario-runs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def _path(self, run_id: str) -> Path:
        if not _RUN_ID.match(str(run_id)):
            raise KeyError(f"run id {run_id!r} is not one this store wrote (12 hex digits)")
        return self.folder / f"{run_id}.nc"

    def put(self, result: Result) -> str:
        """Store a result; returns its new run id. The oldest runs beyond `keep` are dropped."""
        run_id = uuid.uuid4().hex[:12]
        tmp = self.folder / f".{run_id}.tmp"
        compressed(result).to_netcdf(tmp)
        tmp.replace(self._path(run_id))
        self._prune()
        return run_id

    def get(self, run_id: str) -> Result:
        """The stored result; KeyError (naming the id) when it was never stored or was pruned."""
        path = self._path(run_id)
        if not path.exists():
            raise KeyError(f"run {run_id} is no longer stored (only the last {self.keep} are "
                           "kept): run the scenario again")
        return _load(str(path), path.stat().st_mtime_ns)

    def ids(self) -> list[str]:
        """Stored run ids, newest first."""
        files = sorted(self.folder.glob("*.nc"), key=lambda p: p.stat().st_mtime_ns,
                       reverse=True)
        return [p.stem for p in files]

    def _prune(self) -> None:
        for run_id in self.ids()[self.keep:]:
            self._path(run_id).unlink(missing_ok=True)


def compressed(result: Result) -> Result:
    """The same result, written with zlib (an epidemic's time x cell arrays shrink ~7x)."""
    ds = result.ds.copy()
    for name in ds.data_vars:
        ds[name].encoding = {**ds[name].encoding, "zlib": True, "complevel": 1, "shuffle": True}
    return Result(result.scenario, ds, result.impact)


@lru_cache(maxsize=KEEP_RUNS)
def _load(path: str, _mtime: int) -> Result:
    """A result read once per file version (the slider reads the same run many times)."""
    return Result.from_netcdf(path)
