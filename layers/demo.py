"""The live demo: embedded Redis + a synthetic feed + an ingest worker (+ any extra services such
as the rules engine or the dashboard), live counts until Ctrl-C."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence

from layers import feed as feed_mod
from layers import snapshot
from layers.bus import connect
from layers.worker import Worker, stats


def status_line(bus) -> str:
    """One line of live figures: totals, 5-minute counts per kind, rate, dead letters, lag."""
    h = stats(bus)
    recent = {k: int(snapshot.read(bus, f"{k}.count", "5m").sum())
              for k in ("iot", "video", "incident")}
    lag = sum((s["lag"] or 0) for s in h["streams"].values())
    return (f"{time.strftime('%H:%M:%S')}  counted {h['counted']:>9,}  last 5 min: "
            f"iot {recent['iot']:,}  video {recent['video']:,}  incident {recent['incident']:,}"
            f"  | {h['events_per_s']:,.0f} ev/s  dead {h['dead']}  lag {lag}")


def run_demo(twin, rate: float = 300.0, batch: int = 100, url: str | None = None,
             home=None, prefix: str = "cityops:", every_s: float = 2.0,
             duration: float | None = None, out=sys.stdout, seed: int = 0,
             services: Sequence[tuple[str, Callable]] = (),
             shares: dict[str, float] | None = None) -> dict:
    """Run feed + worker in threads and print live counts every `every_s` until Ctrl-C.

    `services`: extra (name, fn(bus, stop)) loops run beside them until `stop()` is true.
    Returns the final health figures. `duration` (seconds) stops it by itself (for tests).
    """
    bus = connect(url, home=home, prefix=prefix)
    worker = Worker(bus, twin, consumer="demo-ingest")
    worker.start()
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(func):
        def run():
            try:
                func()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                stop.set()
        return run

    threads = [threading.Thread(target=guarded(lambda: worker.run(stop.is_set, block_ms=200)),
                                name="ingest", daemon=True),
               threading.Thread(target=guarded(lambda: feed_mod.run(
                   bus, twin, rate, float("inf"), batch=batch, seed=seed, stop=stop.is_set,
                   shares=shares)), name="feed", daemon=True)]
    threads += [threading.Thread(target=guarded(lambda fn=fn: fn(bus, stop.is_set)), name=name,
                                 daemon=True) for name, fn in services]
    for t in threads:
        t.start()
    print(f"demo: {twin.name} ({len(twin):,} cells), feed {rate:g} events/s, Redis prefix "
          f"{prefix!r}; Ctrl-C to stop", file=out, flush=True)
    start = time.monotonic()
    try:
        while not stop.is_set():
            stop.wait(every_s)
            print(status_line(bus), file=out, flush=True)
            if duration is not None and time.monotonic() - start >= duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        worker.release()
        worker.close()
    health = stats(bus)
    bus.close()  # stops the embedded server unless another process still uses it
    if errors:
        raise errors[0]
    return health


DEMO_SHARES = {"iot": 0.35, "video": 0.649, "incident": 0.001}  # ~0.3 hotline reports/s at 300/s


def rules_service(twin, rules_path=None, interval_s: float = 2.0) -> tuple[str, Callable]:
    """The rules engine as a demo service: alerts -> cases, notifications to the log gateway."""
    def loop(bus, stop: Callable[[], bool]) -> None:
        from layers.alerts import Engine
        from layers.notify import Dispatcher, LogGateway
        from layers.rules import load as load_rules

        engine = Engine(bus, twin, load_rules(rules_path), consumer="demo-rules", start_id="$")
        gateway, dispatcher = LogGateway(bus.home / "notify.log"), Dispatcher(bus)
        engine.run(stop, interval_s, on_tick=lambda _summary: dispatcher.drain(gateway))
    return "rules", loop
