"""`twin.locate` on 1M points vs an h3-py per-point loop (naive) and raw h3ronpy (the limit).

Run: python -m tests.bench.index [--quick]
"""

from __future__ import annotations

import h3
import numpy as np

from tests.bench._common import best_time, emit, parse_args
from twin import cells as h3cells
from twin.demo import binhai


def main() -> None:
    args = parse_args(__doc__)
    n = 200_000 if args.quick else 1_000_000
    twin = binhai(resolution=9)
    rng = np.random.default_rng(0)
    lat = rng.uniform(38.5, 39.4, n)
    lng = rng.uniform(117.1, 118.2, n)

    t_locate = best_time(lambda: twin.locate(lat, lng))
    t_raw = best_time(lambda: h3cells.points_to_cells(lat, lng, 9))
    loop_n = n // 20  # the loop is timed on a slice and scaled: same points, same per-point cost
    t_loop = best_time(lambda: [h3.latlng_to_cell(a, b, 9) for a, b in
                                zip(lat[:loop_n], lng[:loop_n], strict=True)], repeat=1) * (n / loop_n)

    rate = n / t_locate
    emit("index", "locate_points_per_s", rate, "points/s", "h3-py per-point loop", n / t_loop)
    emit("index", "locate_points_per_s", rate, "points/s", "raw h3ronpy coordinates_to_cells",
         n / t_raw)


if __name__ == "__main__":
    main()
