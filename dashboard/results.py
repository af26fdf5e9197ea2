"""Scenario results kept on the server, keyed by run id; the browser holds only the ids.

Results are big (time x cell), so they never travel to the browser. With a live bus they live in
Redis (`RedisResults`, key families `scenario:runs` and `scenario:run:{run}`, see layers.keys), so
every dashboard process and every background worker of a fleet sees the same runs; without one
(`cityops serve --no-bus`, one process) in a folder under `$CITYOPS_HOME/scenario-runs`
(`ResultStore`). Both keep the last `keep` runs as zlib-compressed NetCDF, and what each run is
(`RunInfo`: its name, hazard and time) beside it. A planner may save a run under a name: saved
runs (at most SAVED_MAX) are kept past the last few until they are removed from the saved list.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

from sim import Result
from twin import settings

KEEP_RUNS = 6
SAVED_MAX = 20  # saved runs a store keeps (each a few MB): a planner removes one to save more
SAVED_NAME_MAX = 80
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class RunInfo:
    """What a stored run is: the scenario's name and hazard, when it ran; when saved, the name it
    was saved under and who saved it."""

    id: str
    name: str
    hazard: str
    ran_at: float
    saved_as: str = ""
    saved_by: str = ""
    saved_at: float = 0.0

    @staticmethod
    def of(run_id: str, result: Result, ran_at: float) -> RunInfo:
        return RunInfo(run_id, str(result.scenario.name), str(result.scenario.hazard), ran_at)

    @staticmethod
    def from_json(text: str | bytes) -> RunInfo:
        return RunInfo(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


class RunsFull(ValueError):
    """Saving one more run would pass SAVED_MAX."""


class _Saving:
    """Saving and listing runs, on top of a backend's `ids`, `info`, `_write_info` and
    `_saved_ids` (the two stores differ only in where they keep things)."""

    def runs(self) -> list[RunInfo]:
        """Every kept run: the saved ones first (last saved first), then the rest newest first."""
        infos = [self.info(i) for i in self.ids()]
        return (sorted((i for i in infos if i.saved_as), key=lambda i: -i.saved_at)
                + [i for i in infos if not i.saved_as])

    def save(self, run_id: str, name: str, by: str) -> RunInfo:
        """Keep a run past the last few under `name` (default: the scenario's name); KeyError
        when it is gone, RunsFull when SAVED_MAX runs are saved already."""
        info = self.info(run_id)
        if not info.saved_as and len(self._saved_ids()) >= SAVED_MAX:
            raise RunsFull(f"{SAVED_MAX} runs are saved already: remove one from the saved "
                           "runs first")
        saved = replace(info, saved_as=(name or "").strip()[:SAVED_NAME_MAX] or info.name,
                        saved_by=by, saved_at=time.time())
        self._write_info(saved)
        return saved

    def unsave(self, run_id: str) -> RunInfo:
        """Back among the last few (dropped when older than the last `keep` unsaved runs)."""
        info = replace(self.info(run_id), saved_as="", saved_by="", saved_at=0.0)
        self._write_info(info)
        return info

    def _unsaved_beyond_keep(self) -> list[str]:
        saved = set(self._saved_ids())
        return [i for i in self.ids() if i not in saved][self.keep:]


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


class ResultStore(_Saving):
    """The last `keep` scenario results as NetCDF files in a folder (one process, no bus), each
    with a JSON file of its RunInfo."""

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
        self._write_info(RunInfo.of(run_id, result, self._path(run_id).stat().st_mtime))
        for old in self._unsaved_beyond_keep():
            self._path(old).unlink(missing_ok=True)
            self._info_path(old).unlink(missing_ok=True)
        return run_id

    def _info_path(self, run_id: str) -> Path:
        return self.folder / f"{_check(run_id)}.json"

    def info(self, run_id: str) -> RunInfo:
        """What a kept run is; KeyError (naming the id) when it is not kept."""
        ran_at = self.ran_at(run_id)
        if ran_at is None:
            raise _gone(run_id, self.keep)
        try:
            return RunInfo.from_json(self._info_path(run_id).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):  # a run stored before runs had their info
            return RunInfo(run_id, run_id, "", ran_at)

    def _write_info(self, info: RunInfo) -> None:
        tmp = self.folder / f".{info.id}.json.tmp"
        tmp.write_text(info.to_json(), encoding="utf-8")
        tmp.replace(self._info_path(info.id))

    def _saved_ids(self) -> list[str]:
        return [i for i in self.ids() if self.info(i).saved_as]

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


class RedisResults(_Saving):
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
        keys, client, now = self.bus.keys, self.bus.redis, time.time()
        pipe = client.pipeline(transaction=True)
        pipe.set(keys.scenario_run(run_id), data)
        pipe.zadd(keys.scenario_runs, {run_id: now})
        pipe.hset(keys.scenario_about, run_id, RunInfo.of(run_id, result, now).to_json())
        pipe.execute()
        old = self._unsaved_beyond_keep()
        if old:
            pipe = client.pipeline(transaction=True)
            pipe.delete(*[keys.scenario_run(n) for n in old])
            pipe.zrem(keys.scenario_runs, *old)
            pipe.hdel(keys.scenario_about, *old)
            pipe.execute()
        return run_id

    def info(self, run_id: str) -> RunInfo:
        """What a kept run is; KeyError (naming the id) when it is not kept."""
        ran_at = self.ran_at(run_id)
        if ran_at is None:
            raise _gone(run_id, self.keep)
        raw = self.bus.redis.hget(self.bus.keys.scenario_about, run_id)
        try:
            return RunInfo.from_json(raw) if raw else RunInfo(run_id, run_id, "", ran_at)
        except (ValueError, TypeError):
            return RunInfo(run_id, run_id, "", ran_at)

    def _write_info(self, info: RunInfo) -> None:
        keys = self.bus.keys
        pipe = self.bus.redis.pipeline(transaction=True)
        pipe.hset(keys.scenario_about, info.id, info.to_json())
        if info.saved_as:
            pipe.zadd(keys.scenario_saved, {info.id: info.saved_at})
        else:
            pipe.zrem(keys.scenario_saved, info.id)
        pipe.execute()

    def _saved_ids(self) -> list[str]:
        return [i.decode() for i in self.bus.redis.zrange(self.bus.keys.scenario_saved, 0, -1)]

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
