"""The live demo: embedded Redis + a synthetic feed + an ingest worker (+ any extra services such
as the rules engine or the dashboard), live counts until Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from layers.clock import pause
from layers.keys import KINDS
from layers.live import feed as feed_mod
from layers.live import snapshot
from layers.live.bus import connect
from layers.live.health import HealthStore
from layers.live.mqtt import Bridge, Sender
from layers.live.worker import Worker, stats

log = logging.getLogger("cityops.demo")


def status_line(bus) -> str:
    """One line of live figures: totals, 5-minute counts per kind, rate, dead letters, lag."""
    h = stats(bus)
    recent = {k: int(snapshot.read(bus, f"{k}.count", "5m").sum()) for k in KINDS}
    lag = sum((s["lag"] or 0) for s in h["streams"].values())
    trouble = [f"{name} {rep['state']}" for name, rep in h["health"].items()
               if rep["state"] not in ("running", "stopped")]
    memory = h["memory"]
    warn = [f"Redis memory {memory['share']:.0%} of its budget"] if memory["warning"] else []
    return (f"{time.strftime('%H:%M:%S')}  counted {h['counted']:>9,}  last 5 min: "
            + "  ".join(f"{k} {n:,}" for k, n in recent.items())
            + f"  | {h['events_per_s']:,.0f} ev/s  dead {h['dead']}  lag {lag}"
            + ("  | " + ", ".join(trouble + warn) if trouble or warn else ""))


class LiveSystem:
    """Feed + ingest worker (+ extra services) running in threads on one bus until `stop()`.

    Each part is supervised: if it fails it is restarted with backoff (1 s doubling to 30 s),
    said on the terminal and reported in `cityops layers stats` (health); one part's failure
    never stops the others.
    """

    def __init__(self, twin, rate: float = 300.0, batch: int = 100, url: str | None = None,
                 home=None, prefix: str = "cityops:", seed: int = 0,
                 services: Sequence[tuple[str, Callable]] = (),
                 shares: dict[str, float] | None = None, history: bool = True,
                 mqtt=None, feed_options: dict | None = None) -> None:
        """`services`: extra (name, fn(bus, stop)) loops run beside them until stopped.
        `mqtt`: a broker (layers.live.mqtt.Broker): the feed's IoT readings then go through it
        and an MQTT bridge, as a gateway's would. `feed_options`: the feed's daily rates and
        focus cells (see layers.live.feed.Feed)."""
        self.bus = connect(url, home=home, prefix=prefix)
        self.worker = Worker(self.bus, twin, consumer="demo-ingest", history=history)
        self.worker.start()
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []

        def feed() -> None:
            sender = Sender(mqtt, client_id=f"{prefix}feed") if mqtt is not None else None
            try:
                feed_mod.run(self.bus, twin, rate, float("inf"), batch=batch, seed=seed,
                             stop=self.stopping.is_set, shares=shares,
                             doors={"iot": lambda t: sender.send("iot", t)} if sender else None,
                             **(feed_options or {}))
            finally:
                if sender is not None:
                    sender.close()

        loops = [("ingest", lambda: self.worker.run(self.stopping.is_set, block_ms=200)),
                 ("feed", feed)]
        if mqtt is not None:
            bridge = Bridge(self.bus, twin, mqtt, client_id=f"{prefix}bridge")
            loops.append(("mqtt-bridge", lambda: bridge.run(self.stopping.is_set)))
        loops += [(name, lambda fn=fn: fn(self.bus, self.stopping.is_set))
                  for name, fn in services]
        self.health = HealthStore(self.bus)
        self.restarts: dict[str, int] = {}
        self.threads = [threading.Thread(target=self._supervised(name, fn), name=name,
                                         daemon=True) for name, fn in loops]
        for t in self.threads:
            t.start()

    def _supervised(self, name: str, func: Callable) -> Callable:
        """Run `func` until the system stops, restarting it with backoff when it fails."""
        def run():
            delay = 1.0
            while not self.stopping.is_set():
                try:
                    func()
                    return
                except Exception as exc:  # noqa: BLE001 - reported, then restarted
                    self.errors.append(exc)
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    print(f"demo: {name} failed ({type(exc).__name__}: {exc}); restarting in "
                          f"{delay:.0f} s", file=sys.stderr, flush=True)
                    log.exception("service %s failed", name)
                    self.health.report(f"demo-{name}", "restarting", f"{type(exc).__name__}: "
                                       f"{exc}", restarted=True)
                    pause(delay, self.stopping.is_set)
                    delay = min(2 * delay, 30.0)
        return run

    def stop(self, close_bus: bool = True) -> dict:
        """Stop every thread, checkpoint and free the worker; the final health figures."""
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)
        try:
            self.worker.release()
            self.worker.close()
            health = stats(self.bus)
        finally:
            if close_bus:
                self.bus.close()  # stops the embedded server unless another process uses it
        return health


def run_demo(twin, rate: float = 300.0, batch: int = 100, url: str | None = None,
             home=None, prefix: str = "cityops:", every_s: float = 2.0,
             duration: float | None = None, out=sys.stdout, seed: int = 0,
             services: Sequence[tuple[str, Callable]] = (),
             shares: dict[str, float] | None = None, mqtt=None,
             feed_options: dict | None = None) -> dict:
    """Run the live system and print live counts every `every_s` until Ctrl-C.

    Returns the final health figures. `duration` (seconds) stops it by itself (for tests).
    """
    system = LiveSystem(twin, rate, batch, url, home, prefix, seed, services, shares,
                        mqtt=mqtt, feed_options=feed_options)
    if mqtt is not None:
        print(f"demo: IoT readings go through MQTT at {mqtt.host}:{mqtt.port} (topics "
              f"cityops/iot|video|incident/#; `cityops bridge mqtt` is the door)", file=out,
              flush=True)
    print(f"demo: {twin.name} ({len(twin):,} cells), feed {rate:g} events/s, Redis prefix "
          f"{prefix!r}; Ctrl-C to stop", file=out, flush=True)
    door = system.bus.producer_url()
    if door:
        print(f"demo: producers write to {door} (`cityops bus info --show-secret` for the "
              f"password; streams {system.bus.keys.streams_text()})", file=out, flush=True)
    start = time.monotonic()
    with stop_signals(system.stopping):
        try:
            while not system.stopping.is_set():
                system.stopping.wait(every_s)
                try:
                    print(status_line(system.bus), file=out, flush=True)
                except Exception as exc:  # noqa: BLE001 - Redis may be restarting
                    print(f"demo: no figures now ({type(exc).__name__}: {exc})", file=out,
                          flush=True)
                if duration is not None and time.monotonic() - start >= duration:
                    break
        except KeyboardInterrupt:
            pass
    return system.stop()


@contextlib.contextmanager
def stop_signals(stopping: threading.Event):
    """SIGTERM and SIGHUP stop the system like Ctrl-C (so it cleans up and stops Redis);
    only in the main thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig in old:
        signal.signal(sig, lambda *_: stopping.set())
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)

DEMO_SHARES = {"iot": 0.35, "video": 0.649, "incident": 0.001}  # ~0.3 hotline reports/s at 300/s


def rules_service(twin, rules_path=None, interval_s: float = 2.0) -> tuple[str, Callable]:
    """The rules engine as a demo service: alerts -> cases, notifications to the log gateway,
    Open311 photos onto their cases."""
    def loop(bus, stop: Callable[[], bool]) -> None:
        from dashboard.open311_api import settle_photos
        from layers.loop.engine import Engine
        from layers.loop.notify import Dispatcher, LogGateway
        from layers.loop.rules import load as load_rules

        engine = Engine(bus, twin, load_rules(rules_path), consumer="demo-rules", start_id="$")
        gateway, dispatcher = LogGateway(bus.home / "notify.log"), Dispatcher(bus)

        def after(_summary) -> None:
            dispatcher.drain(gateway)
            settle_photos(bus, twin, engine.store)  # citizens' photos onto their new cases

        engine.run(stop, interval_s, on_tick=after)
    return "rules", loop


def escalation_service(twin, interval_s: float = 10.0) -> tuple[str, Callable]:
    """SLA escalation as a demo service: overdue cases climb grid -> street/town -> command."""
    def loop(bus, stop: Callable[[], bool]) -> None:
        from layers.loop.cases import CaseStore
        from layers.loop.escalation import Escalator
        from layers.loop.routing import Router

        Escalator(CaseStore(bus, Router(twin))).run(stop, interval_s)
    return "escalation", loop


def responders_service(config_path=None) -> tuple[str, Callable]:
    """The demo's simulated responders: departments accept, arrive and resolve cases after
    seeded delays per category (layers.loop.responders)."""
    def loop(bus, stop: Callable[[], bool]) -> None:
        from layers.loop.cases import CaseStore
        from layers.loop.responders import Responders, load_config

        Responders(CaseStore(bus, None), load_config(config_path)).run(stop)
    return "responders", loop


def demo_feed_options(twin, users_file=None, focus_share: float = 0.15) -> dict:
    """The demo feed's options: rates that follow the time of day, and a share of the citizen
    reports in the grids of the demo's grid managers (so they always have cases to work)."""
    import numpy as np

    from dashboard.users import load_users

    grids = sorted({g for u in load_users(users_file).values() if u.role == "grid_manager"
                    for g in u.grids})
    focus = np.flatnonzero(np.isin(twin.ds["grid"].values, grids) & twin.ds["is_land"].values)
    return {"daily": True, "focus": focus, "focus_share": focus_share if len(focus) else 0.0}
