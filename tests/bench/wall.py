"""The Command wall's cost per update on the demo twin with the feed running.

Server time and bytes per wall update (only changed cells travel) against the naive update that
sends the whole layer, measured in the same run on the same live data; then, in headless
Chromium logged in as the commander, the event-to-screen latency (publish -> the cell's update
arrives in the browser) against the bus's own latency (publish -> the snapshot in Redis shows
it) for the same events.

Then the speed a user feels: the first live figures after a page load of the kiosk wall (served
with the page from the last snapshot) against the page's first poll response (what the wall
waited for before), and the Cases page's map at 10,000 open cases (read from the GEO index and
gathered per H3 cell) against parsing every open case's view (the naive read).

Run: python -m tests.bench.wall [--quick]
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time

from layers.testing import stop_server
from tests.bench._common import emit, parse_args


def main() -> None:
    args = parse_args(__doc__)
    from dashboard import live, wall_view
    from dashboard.context import set_context
    from dashboard.pages import command
    from dashboard.system import LiveSystem
    from twin.demo import binhai

    twin = binhai(resolution=9)
    ticks = 8 if args.quick else 30
    with tempfile.TemporaryDirectory(prefix="cityops-bench-wall-") as home:
        system = LiveSystem(twin, rate=300.0, batch=200, home=home, history=False)
        bus = system.bus
        try:
            set_context(twin, bus)
            time.sleep(4.0 if args.quick else 20.0)  # let the feed fill the layers
            layer, window = "video.count", "5m"
            svc = command.services()
            state = wall_view.initial(svc, twin, None, layer, window, "zh").state  # page load
            times, sizes, full_times, full_sizes = [], [], [], []
            for _ in range(ticks):
                time.sleep(command.TICK_MS / 1000.0)
                start = time.perf_counter()
                shown = wall_view.tick(svc, twin, None, state, layer, window, "zh")
                state = shown.state
                body = json.dumps([shown.patch.to_plotly_json(), shown.kpis, shown.ticker,
                                   shown.board], default=str)
                times.append(time.perf_counter() - start)
                sizes.append(len(body))
                start = time.perf_counter()  # the naive update: every land cell every tick
                full = json.dumps(live.update(bus, twin, layer, window, 0, None)["full"])
                full_times.append(time.perf_counter() - start)
                full_sizes.append(len(full))
        finally:
            system.stop(close_bus=False)
        latency = _browser_latency(twin, home, probes=6 if args.quick else 20)
        stop_server(bus)  # the bench's own Redis, whoever still holds a connection to it
    ms, full_ms = statistics.median(times) * 1000, statistics.median(full_times) * 1000
    kb, full_kb = statistics.median(sizes) / 1024, statistics.median(full_sizes) / 1024
    emit("wall", "server_ms_per_update_median", ms, "ms", "full layer every tick", full_ms)
    emit("wall", "server_ms_per_update_p95", _p95(times) * 1000, "ms", "full layer every tick",
         _p95(full_times) * 1000)
    emit("wall", "kb_per_update_median", kb, "KB", "full layer every tick", full_kb)
    emit("wall", "kb_per_update_p95", _p95(sizes) / 1024, "KB", "full layer every tick",
         _p95(full_sizes) / 1024)
    if latency is not None:
        screen, bus_only = latency
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            emit("wall", f"event_to_screen_{name}", _q(screen, q), "s",
                 "event to snapshot in Redis (the bus's own latency)", _q(bus_only, q))
    rescales = sum(s > 0.5 * f for s, f in zip(sizes, full_sizes, strict=True))
    emit("wall", "full_resends_per_100_updates", 100.0 * rescales / len(sizes), "%",
         "every update a full resend", 100.0)
    first = _first_figures(twin, loads=2 if args.quick else 4)
    if first is not None:
        emit("wall", "first_figures_after_load_s_median", statistics.median(first[0]), "s",
             "first wall poll response after load (the old first figures)",
             statistics.median(first[1]))
    cases = _cases_map(twin, 2_000 if args.quick else 10_000)
    emit("wall", f"cases_map_server_s_{cases['n']}_open", cases["server"], "s",
         "parse every open case view", cases["naive"])
    if cases.get("browser") is not None:
        emit("wall", f"cases_map_in_browser_s_{cases['n']}_open", cases["browser"], "s",
             "first wall figures after load (the same machine's page-load floor)",
             statistics.median(first[0]) if first else None)


def _q(values: list[float], q: float) -> float:
    return float(sorted(values)[min(len(values) - 1, int(round(q * (len(values) - 1))))])


def _p95(values: list[float]) -> float:
    return _q(values, 0.95)


def _browser_latency(twin, home: str, probes: int):
    """(screen latencies, bus latencies) in seconds for `probes` incidents, or None without
    a browser. The feed keeps running (the demo mix); the desk wall shows `incident.count`."""
    import numpy as np

    from dashboard.app import create_app
    from dashboard.system import DEMO_SHARES, LiveSystem
    from layers.live import snapshot
    from tests.dashboard.browser import ARGS, CHROMIUM, login_context, serve

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    system = LiveSystem(twin, rate=300.0, home=home, shares=DEMO_SHARES, history=False,
                        prefix="bench-wall:")
    bus = system.bus
    url, server = serve(create_app(twin, bus=bus))
    screen, bus_only = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            login_context(context, url, "commander")
            page = context.new_page()
            seen: dict[str, list] = {}
            page.on("response", lambda r: _note(r, seen))
            page.goto(url + "/?lang=en")
            page.wait_for_selector("#command-map-box canvas", timeout=60_000)
            page.wait_for_timeout(4000)
            land = np.flatnonzero(twin.ds["is_land"].values)
            lat, lng = twin.centers
            rng = np.random.default_rng(1)
            for k in range(probes):
                values = snapshot.read(bus, "incident.count", "1h")
                pos = int(rng.choice(land[values[land] == 0]))
                hexes = _lineage(twin, pos)
                before = {h: seen[h][-1][1] for h in hexes if seen.get(h)}
                start = time.time()
                bus.publish("incident", [{"id": f"probe-{k}-{start}", "ts": repr(start),
                                          "lat": repr(float(lat[pos])),
                                          "lng": repr(float(lng[pos])), "source": "hotline",
                                          "category": "noise", "severity": "2",
                                          "text": "probe"}])
                seen_bus = shown = None
                while time.time() - start < 15 and (shown is None or seen_bus is None):
                    if seen_bus is None and snapshot.read(bus, "incident.count", "1h")[pos] > 0:
                        seen_bus = time.time()
                    shown = _shown_after(seen, hexes, before, start)
                    page.wait_for_timeout(20)
                if shown is not None and seen_bus is not None:
                    screen.append(shown - start)
                    bus_only.append(seen_bus - start)
            browser.close()
    finally:
        server.shutdown()
        system.stop()
        stop_server(bus)
    return (screen, bus_only) if screen else None


def _first_figures(twin, loads: int):
    """([seconds from navigation to the first live figures], [seconds to the first poll
    response]) over `loads` loads of the kiosk wall, languages alternating; None without a
    browser. The feed runs (the demo mix) in the same process, as in `cityops demo`."""
    from dashboard.app import create_app
    from dashboard.system import DEMO_SHARES, LiveSystem
    from tests.dashboard.browser import ARGS, CHROMIUM, login_context, serve

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="cityops-bench-first-") as home:
        system = LiveSystem(twin, rate=300.0, home=home, shares=DEMO_SHARES, history=False)
        url, server = serve(create_app(twin, bus=system.bus))
        figures, polls = [], []
        try:
            time.sleep(6.0)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                login_context(context, url, "commander")
                page = context.new_page()
                page.goto(url + "/?wall=1")  # warm the browser's cache of the scripts
                page.wait_for_timeout(3000)
                for k in range(loads):
                    first_poll: list[float] = []
                    page.on("response", lambda r, box=first_poll: box.append(time.monotonic())
                            if "_dash-update-component" in r.url and "wall-tick" in (
                                r.request.post_data or "") and not box else None)
                    start = time.monotonic()
                    page.goto(f"{url}/?wall=1&lang={('zh', 'en')[k % 2]}")
                    page.wait_for_function(
                        "(document.querySelector('#kpi-value-kpi_events_min') || {}).innerText"
                        " && document.querySelector('#kpi-value-kpi_events_min').innerText"
                        " !== '—'", timeout=120_000)
                    figures.append(time.monotonic() - start)
                    while not first_poll and time.monotonic() - start < 120:
                        page.wait_for_timeout(50)
                    polls.append(first_poll[0] - start)
                browser.close()
        finally:
            server.shutdown()
            system.stop()
    return figures, polls


def _cases_map(twin, n: int) -> dict:
    """Seconds to build the Cases map of `n` open cases (server side and, with a browser, from
    navigation until the map's data arrives) and to parse every open case's view."""
    import numpy as np

    from dashboard import case_queue
    from dashboard.app import create_app
    from layers.live.bus import connect
    from layers.loop.alerts import AlertStore
    from layers.loop.cases import CaseStore
    from layers.loop.intake import Intake
    from layers.loop.records import Alert
    from layers.loop.routing import Router
    from tests.dashboard.browser import ARGS, CHROMIUM, login_context, serve

    out: dict = {"n": n, "browser": None}
    with tempfile.TemporaryDirectory(prefix="cityops-bench-cases-") as home:
        bus = connect(home=home, fsync="no")
        try:
            store, alerts = CaseStore(bus, Router(twin)), AlertStore(bus)
            land = np.flatnonzero(twin.ds["is_land"].values)
            cells = np.random.default_rng(5).choice(land, n, replace=False)
            lat, lng = twin.centers
            now = time.time()
            intake = Intake(store, alerts)
            for lo in range(0, n, 500):  # one cell each, 50 m merge radius: n distinct cases
                intake.commit([Alert(id=f"B{i}", rule="bench", category="illegal_parking",
                                     severity=2, ts=now - 60, lat=float(lat[p]),
                                     lng=float(lng[p])) for i, p in enumerate(
                                         cells[lo:lo + 500].tolist(), start=lo)])
            assert store.count_open() == n, store.count_open()
            query = case_queue.Query()
            start = time.perf_counter()
            case_queue.case_map(twin, case_queue.open_points(store, None, query), now)
            out["server"] = time.perf_counter() - start
            start = time.perf_counter()
            store.many(store.ids(open_only=True))
            out["naive"] = time.perf_counter() - start
            try:
                from playwright.sync_api import sync_playwright
            except ImportError:
                return out
            url, server = serve(create_app(twin, bus=bus))
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=ARGS)
                    context = browser.new_context(viewport={"width": 1600, "height": 1000})
                    login_context(context, url, "commander")
                    page = context.new_page()
                    page.goto(url + "/cases")  # warm the browser's cache of the scripts
                    page.wait_for_timeout(3000)
                    start = time.monotonic()  # the map comes with the page: wait for its canvas
                    page.goto(url + "/cases?lang=en")
                    page.wait_for_selector("#cases-map-box canvas", timeout=180_000)
                    out["browser"] = time.monotonic() - start
                    browser.close()
            finally:
                server.shutdown()
        finally:
            stop_server(bus)
    return out


def _lineage(twin, pos: int) -> list[str]:
    """The hex ids of a cell and of its parents down to resolution 5 (the wall's roll-ups)."""
    import h3

    cell = h3.int_to_str(int(twin.cell_ids[pos]))
    return [cell] + [h3.cell_to_parent(cell, r) for r in range(twin.resolution - 1, 4, -1)]


def _note(response, seen: dict) -> None:
    """Record each cell a wall update carries, with when it came and its value (hex ids and
    values in the body); the map may show roll-ups, so a probe looks at its cell's parents."""
    if "_dash-update-component" not in response.url or response.status != 200:
        return
    now = time.time()
    try:
        body = response.text()
    except Exception:  # noqa: BLE001 - a response the page navigated away from
        return
    for hex_id, value in re.findall(r'"hex": ?"([0-9a-f]{15})", ?"v": ?([0-9.eE+-]+)', body):
        seen.setdefault(hex_id, []).append((now, float(value)))


def _shown_after(seen: dict, hexes: list[str], before: dict, start: float) -> float | None:
    """When one of `hexes` (a probe's cell and its parents) first came with a value above the
    one it had before the probe; None while none has."""
    times = [t for h in hexes for t, v in seen.get(h, []) if t >= start and v > before.get(h, 0)]
    return min(times) if times else None


if __name__ == "__main__":
    main()
