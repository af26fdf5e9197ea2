"""`cityops demo` (what `make demo` runs): the whole system comes up and shows live counts."""

import os
import subprocess
import sys
import time
import urllib.request

from tests.dashboard.browser import free_port


def test_demo_runs_feed_ingest_rules_and_serves_the_dashboard(tmp_path):
    port = free_port()
    env = dict(os.environ, CITYOPS_HOME=str(tmp_path))
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "demo", "--resolution", "7",
                             "--port", str(port), "--duration", "12", "--rate", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    status = None
    try:
        for _ in range(60):
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    status = r.status
                break
            except OSError:
                continue
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 200, out
    assert proc.returncode == 0, out
    counted = [line for line in out.splitlines() if "counted" in line]
    assert counted and int(counted[-1].split("counted")[1].split()[0].replace(",", "")) > 0, out
