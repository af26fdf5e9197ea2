"""Route planning for the inspection vehicle: coverage per street/town, a greedy nearest-neighbour
route over the road cells, its length and driving time against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from sim.mesh import haversine_m
from sim.patrol import RoadNetwork, Speeds, coverage, plan_route


@pytest.fixture(scope="module")
def network(small):
    return RoadNetwork(small, Speeds(main_kmh=36.0, local_kmh=18.0))


def strip(twin) -> np.ndarray:
    """The small twin's road cells, west to east (every one a main corridor: 3000 vehicles/h)."""
    cells = np.flatnonzero(twin.ds["road_capacity"].values > 0)
    return cells[np.argsort(twin.centers[1][cells])]


def test_each_street_gets_a_road_waypoint_in_it(network, small):
    unit = small.ds["unit"].values
    assert sorted(network.waypoints) == [0, 1]
    assert all(unit[cell] == u and network.road[cell] for u, cell in network.waypoints.items())


def test_a_route_to_the_other_street_covers_it_and_counts_length_and_time(network, small):
    cells = strip(small)
    start = int(cells[0])
    route = plan_route(network, start, [0, 1])
    assert route.units == [0, 1] and route.unreachable == []
    lat, lng = small.centers
    hops = haversine_m(lat[route.cells[:-1]], lng[route.cells[:-1]], lat[route.cells[1:]],
                       lng[route.cells[1:]])
    assert route.length_m == pytest.approx(hops.sum(), rel=1e-9)
    assert route.time_s == pytest.approx(route.length_m / 10.0, rel=1e-9)  # 36 km/h = 10 m/s
    assert small.ds["unit"].values[route.cells[-1]] == 1


def test_every_step_of_a_route_is_between_neighbouring_road_cells(network, small):
    route = plan_route(network, int(strip(small)[0]), [1], back_to_start=True)
    nb = small.neighbors
    assert all(b in nb[a] for a, b in zip(route.cells[:-1], route.cells[1:], strict=True))
    assert network.road[route.cells].all() and route.cells[-1] == route.cells[0]


def test_a_street_crossed_on_the_way_is_not_visited_again(network, small):
    cells = strip(small)
    route = plan_route(network, int(cells[-1]), [0, 1])
    assert route.units == [1, 0]
    assert len(route.cells) == len(set(route.cells.tolist()))  # a straight drive, no detour


def test_a_street_without_road_cells_is_reported_unreachable(network, small):
    route = plan_route(network, int(strip(small)[0]), [1, 7])
    assert route.units == [1] and route.unreachable == [7]


def test_the_nearest_waypoint_comes_first(demo_twin):
    network = RoadNetwork(demo_twin)
    targets = sorted(network.waypoints)
    start = network.waypoints[targets[0]]
    route = plan_route(network, start, targets)
    assert sorted(route.units) == targets and route.unreachable == []
    from scipy.sparse.csgraph import dijkstra

    seconds = dijkstra(network.graph, indices=start)
    others = [u for u in targets if u != targets[0]]
    nearest = min(others, key=lambda u: seconds[network.waypoints[u]])
    crossed = {int(network.unit[c]) for c in route.cells}
    assert nearest in crossed and route.units[1] in crossed


def test_a_route_must_start_on_a_road(network, small):
    off_road = int(np.flatnonzero(small.ds["road_capacity"].values == 0)[0])
    with pytest.raises(ValueError, match="road cell"):
        plan_route(network, off_road, [1])


def test_coverage_counts_the_share_of_each_streets_road_cells(small):
    cells = strip(small)
    unit = small.ds["unit"].values
    west = cells[unit[cells] == 0]
    table = coverage(small, west[:2]).set_index("unit")
    assert table.loc[0, "covered_cells"] == 2 and table.loc[0, "inspected"]
    assert table.loc[0, "share"] == pytest.approx(2 / len(west))
    assert table.loc[1, "covered_cells"] == 0 and not table.loc[1, "inspected"]
