"""Scenario results kept on the server, keyed by run id; the browser holds only the ids.

Results are big (time x cell), so they never travel to the browser. With a live bus they live in
Redis (`RedisResults`, key families `scenario:runs` and `scenario:run:{run}`, see layers.keys), so
every dashboard process and every background worker of a fleet sees the same runs; without one
(`cityops serve --no-bus`, one process) in a folder under `$CITYOPS_HOME/scenario-runs`
(`ResultStore`). Both keep the last `keep` runs as zlib-compressed NetCDF.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path

from sim import Result
from twin import settings

KEEP_RUNS = 6
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")


def compressed(result: Result) -> Result:
    """The same result, written with zlib (an epidemic's time x cell arrays shrink ~7x)."""
    ds = result.ds.copy()
    for name in ds.data_vars:
        ds[name].encoding = {**ds[name].encoding, "zlib": True, "complevel": 1, "shuffle": True}
    return Result(result.scenario, ds, result.impact)


def _check(run_id: str) -> str:
    if not _RUN_ID.match(str(run_id)):
        raise KeyError(f"run id {run_id!r} is not one this store wrote (12 hex digits)")
    return str(run_id)


def _gone(run_id: str, keep: int) -> KeyError:
    return KeyError(f"run {run_id} is no longer stored (only the last {keep} are kept): run the "
                    "scenario again")


class ResultStore:
    """The last `keep` scenario results as NetCDF files in a folder (one process, no bus)."""

    def __init__(self, folder: str | os.PathLike | None = None, keep: int = KEEP_RUNS) -> None:
        self.folder = Path(folder) if folder is not None else settings.home() / "scenario-runs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def _path(self, run_id: str) -> Path:
        return self.folder / f"{_check(run_id)}.nc"

    def put(self, result: Result) -> str:
        """Store a result; returns its new run id. The oldest runs beyond `keep` are dropped."""
        run_id = uuid.uuid4().hex[:12]
        tmp = self.folder / f".{run_id}.tmp"
        compressed(result).to_netcdf(tmp)
        tmp.replace(self._path(run_id))
        for old in self.ids()[self.keep:]:
            self._path(old).unlink(missing_ok=True)
        return run_id

    def get(self, run_id: str) -> Result:
        """The stored result; KeyError (naming the id) when it was never stored or was pruned."""
        path = self._path(run_id)
        if not path.exists():
            raise _gone(run_id, self.keep)
        return _load_file(str(path), path.stat().st_mtime_ns)

    def ran_at(self, run_id: str) -> float | None:
        """When a run was stored (epoch seconds); None when it is not kept."""
        path = self._path(run_id)
        return path.stat().st_mtime if path.exists() else None

    def ids(self) -> list[str]:
        """Stored run ids, newest first."""
        files = sorted(self.folder.glob("*.nc"), key=lambda p: p.stat().st_mtime_ns,
                       reverse=True)
        return [p.stem for p in files]


class RedisResults:
    """The last `keep` scenario results in Redis, shared by every process on the bus."""

    def __init__(self, bus, keep: int = KEEP_RUNS) -> None:
        self.bus, self.keep = bus, keep

    def put(self, result: Result) -> str:
        """Store a result; returns its new run id. The oldest runs beyond `keep` are dropped."""
        run_id = uuid.uuid4().hex[:12]
        with tempfile.TemporaryDirectory(prefix="cityops-run-") as folder:
            path = Path(folder) / "run.nc"
            compressed(result).to_netcdf(path)
            data = path.read_bytes()
        keys, client = self.bus.keys, self.bus.redis
        pipe = client.pipeline(transaction=True)
        pipe.set(keys.scenario_run(run_id), data)
        pipe.zadd(keys.scenario_runs, {run_id: time.time()})
        pipe.execute()
        old = client.zrevrange(keys.scenario_runs, self.keep, -1)
        if old:
            names = [o.decode() for o in old]
            pipe = client.pipeline(transaction=True)
            pipe.delete(*[keys.scenario_run(n) for n in names])
            pipe.zrem(keys.scenario_runs, *names)
            pipe.execute()
        return run_id

    def get(self, run_id: str) -> Result:
        """The stored result; KeyError (naming the id) when it was never stored or was pruned."""
        key = self.bus.keys.scenario_run(_check(run_id))
        cached = _loaded.get(key)
        if cached is not None:
            return cached
        data = self.bus.redis.get(key)
        if data is None:
            raise _gone(run_id, self.keep)
        with tempfile.TemporaryDirectory(prefix="cityops-run-") as folder:
            path = Path(folder) / "run.nc"
            path.write_bytes(data)
            result = Result.from_netcdf(path)
        _loaded[key] = result
        while len(_loaded) > KEEP_RUNS:  # a run never changes: keep the newest few read
            _loaded.pop(next(iter(_loaded)))
        return result

    def ran_at(self, run_id: str) -> float | None:
        """When a run was stored (epoch seconds); None when it is not kept."""
        return self.bus.redis.zscore(self.bus.keys.scenario_runs, _check(run_id))

    def ids(self) -> list[str]:
        """Stored run ids, newest first."""
        return [i.decode() for i in self.bus.redis.zrevrange(self.bus.keys.scenario_runs, 0, -1)]


_loaded: dict[str, Result] = {}  # per process: the slider reads the same run many times


@lru_cache(maxsize=KEEP_RUNS)
def _load_file(path: str, _mtime: int) -> Result:
    """A result read once per file version."""
    return Result.from_netcdf(path)


def store(bus=None, keep: int = KEEP_RUNS):
    """The result store of a dashboard: in Redis on a live bus, else in a folder."""
    return RedisResults(bus, keep) if bus is not None else ResultStore(keep=keep)
