"""Every clock the product shows is in the city's time zone, whatever the server's TZ is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json, time
from dashboard import case_view, wall_panels
from dashboard.context import set_context
from layers.loop.records import Alert
from twin.testing import small_twin

twin = small_twin()
set_context(twin)
ts = 1_767_225_600.0 + 3 * 3600 + 25 * 60  # 2026-01-01 03:25 UTC = 11:25 in Beijing
lat, lng = twin.centers
alert = Alert(id="A1", rule="r", category="noise", severity=1, ts=ts, lat=float(lat[0]),
              lng=float(lng[0]))
print(json.dumps({"ticker": wall_panels.ticker([alert], twin, ts, "zh", twin.timezone)[0]["time"],
                  "cases": case_view.clock_text(ts), "server": time.strftime("%H:%M",
                                                                            time.localtime(ts))}))
"""


def _clocks(tz: str) -> dict:
    env = dict(os.environ, TZ=tz)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_wall_ticker_and_the_cases_page_show_the_same_city_time_on_a_utc_server():
    shown = _clocks("UTC")
    assert shown["server"] == "03:25"  # the server's own clock says otherwise
    assert shown["ticker"].startswith("11:25") and shown["cases"].endswith("11:25")


def test_the_server_time_zone_changes_nothing_the_city_sees():
    assert {k: v for k, v in _clocks("America/New_York").items() if k != "server"} == \
        {k: v for k, v in _clocks("UTC").items() if k != "server"}
