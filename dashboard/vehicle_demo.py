"""The demo's inspection vehicle (城市体检智能巡检): one vehicle driving the main corridors.

Its route is planned with `sim.patrol` (the greedy route over the road cells that covers every
street/town, back to its start), started on the main corridor nearest the twin's centre; the
fixes (`layers.live.patrol.VehicleFeed`) go through the producer's door, so the track gate
judges them like any producer's, and on into the streams, ingest and the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from layers.live.patrol import VehicleFeed
from layers.live.producer import Producer
from sim.patrol import RoadNetwork, plan_route


def corridor_route(twin) -> np.ndarray:
    """A closed route (twin positions, consecutive cells adjacent) over every street/town."""
    network = RoadNetwork(twin)
    lat, lng = twin.centers
    start = network.nearest_road(float(np.mean(lat)), float(np.mean(lng)))
    units = sorted(int(u) for u in twin.units["unit"])
    route = plan_route(network, start, units, back_to_start=True)
    cells = route.cells[:-1] if len(route.cells) > 2 and route.cells[-1] == start else route.cells
    return np.asarray(cells, dtype=np.int64)


def vehicle_service(twin, every_s: float = 2.0, seed: int = 0,
                    speed_kmh: float = 30.0) -> tuple[str, Callable]:
    """The vehicle as a demo service (name, loop(bus, stop)): sends its fixes as time passes."""
    def loop(bus, stop) -> None:
        from layers.clock import pause

        feed = VehicleFeed(twin, corridor_route(twin), speed_kmh=speed_kmh, every_s=every_s,
                           seed=seed, start_ts=time.time())
        producer = Producer(bus, twin)
        sent_to = time.time()
        while not stop():
            pause(every_s, stop)
            now = time.time()
            table = feed.generate(sent_to, now)
            if table is not None:
                producer.publish("vehicle", table)
            sent_to = now
    return "vehicle", loop
