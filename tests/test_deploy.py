"""docs/DEPLOY.md runs as written: every `sh` block, on localhost.

The addresses block is replaced by local ones (a redis-server of the test's own, free ports);
servers (`cityops demo|serve|jobs`, `dask scheduler|worker`) start in the background, are waited
for, and are stopped with SIGTERM at the end of their block (they must exit cleanly); the other
commands must succeed. Blocks marked `# not run by the tests` are skipped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.browser import free_port
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("cityops demo", "cityops serve", "cityops jobs", "dask scheduler", "dask worker")


def blocks() -> list[str]:
    text = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    return [b for b in re.findall(r"```sh\n(.*?)```", text, re.S)
            if "# not run by the tests" not in b]


def _commands(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _ready(command: str, env: dict, proc: subprocess.Popen, timeout_s: float = 600.0) -> None:
    """Wait until a server answers: the dashboard's login page, the scheduler's port; a worker
    or a jobs worker only has to stay up a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{command!r} ended with {proc.returncode}"
        try:
            if command.startswith(("cityops demo", "cityops serve")):
                url = f"http://127.0.0.1:{env['WEB_PORT']}/login"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    if reply.status == 200:
                        return
            elif command.startswith("dask scheduler"):
                socket.create_connection(("127.0.0.1", int(env["DASK_PORT"])), timeout=2).close()
                return
            else:
                time.sleep(3)
                assert proc.poll() is None, f"{command!r} ended with {proc.returncode}"
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{command!r} was not ready after {timeout_s:.0f} s")


def _stop(servers: list[tuple[str, subprocess.Popen]]) -> None:
    for _, proc in reversed(servers):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for command, proc in reversed(servers):
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"{command!r} did not stop on SIGTERM") from None
        assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), f"{command!r} exit {code}"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The environment of the commands: a redis-server, free ports, a home of their own (the
    twin cache shared with the session), the repository's data beside the working folder."""
    redis_server = RedisProcess(tmp_path_factory.mktemp("deploy-redis")).start()
    home = tmp_path_factory.mktemp("deploy-home")
    (home / "twins").symlink_to(Path(os.environ["CITYOPS_HOME"]) / "twins",
                                target_is_directory=True)
    (Path(os.environ["CITYOPS_HOME"]) / "twins").mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("deploy-work")
    (work / "data").symlink_to(ROOT / "data", target_is_directory=True)
    env = dict(os.environ, CITYOPS_HOME=str(home), REDIS_HOST="127.0.0.1",
               REDIS_PORT=str(redis_server.port), DASK_HOST="127.0.0.1",
               DASK_PORT=str(free_port()), WEB_PORT=str(free_port()),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
    yield env, work
    redis_server.stop()


@pytest.mark.parametrize("block", blocks(), ids=lambda b: _commands(b)[0][:40])
def test_the_deploy_block_runs_on_localhost(block, local):
    env, work = local
    if "export REDIS_HOST" in block:  # the addresses: the fixture's local ones instead
        return
    one_machine = "--redis" not in block and "dask" not in block
    run_env = dict(env)
    if one_machine:  # the default: an embedded Redis under the home, no REDIS_URL
        run_env.pop("REDIS_URL")
    servers: list[tuple[str, subprocess.Popen]] = []
    try:
        for command in _commands(block):
            if command.startswith(SERVERS):
                proc = subprocess.Popen(["bash", "-c", f"exec {command}"], env=run_env, cwd=work,
                                        start_new_session=True)
                servers.append((command, proc))
                _ready(command, run_env, proc)
            else:
                done = subprocess.run(["bash", "-c", command], env=run_env, cwd=work,
                                      capture_output=True, text=True, timeout=900)
                assert done.returncode == 0, f"{command!r}: {done.stderr[-2000:]}"
    finally:
        _stop(servers)
    if "--out ensemble.nc" in block:
        assert (work / "ensemble.nc").stat().st_size > 0
