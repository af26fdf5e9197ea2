"""`cityops serve`: the dashboard alone against a given Redis and twin; bad input exits 2."""

import os
import subprocess
import sys
import time
import urllib.request

import psutil

from tests.dashboard.browser import free_port
from tests.redis_process import redis_servers_in


def _serve(args, env):
    return subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_serve_answers_on_the_port_with_the_login_page(tmp_path):
    port = free_port()
    env = dict(os.environ, CITYOPS_HOME=str(tmp_path))
    env.pop("REDIS_URL", None)
    proc = _serve(["--demo", "binhai", "--demo-resolution", "7", "--port", str(port)], env)
    try:
        for _ in range(480):
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    assert r.status == 200
                    assert "login" in r.read().decode().lower()
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()
        else:
            raise AssertionError("the dashboard never answered")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert proc.returncode == 0  # SIGTERM stops it like Ctrl-C
    _, alive = psutil.wait_procs(redis_servers_in(str(tmp_path)), timeout=60)
    assert alive == []  # and its embedded Redis with it


def test_an_unreachable_redis_exits_2_with_one_line(tmp_path):
    env = dict(os.environ, CITYOPS_HOME=str(tmp_path))
    proc = _serve(["--demo", "binhai", "--demo-resolution", "7", "--redis",
                   "redis://127.0.0.1:1/0", "--port", str(free_port())], env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert len(err.strip().splitlines()) == 1 and "Redis" in err


def test_a_missing_users_file_exits_2_naming_it(tmp_path):
    env = dict(os.environ, CITYOPS_HOME=str(tmp_path))
    missing = tmp_path / "nobody.yaml"
    proc = _serve(["--demo", "binhai", "--demo-resolution", "7", "--no-bus", "--users",
                   str(missing), "--port", str(free_port())], env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and str(missing) in err
    assert len(err.strip().splitlines()) == 1
