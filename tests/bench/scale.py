"""Building the Tianjin twin (the whole city) at resolution 9 and 10, against the Binhai build.

Each build runs in a fresh process (no cache) that reports its wall time, cell count and peak
resident memory; the Binhai demo at resolution 9, built in the same run, is the baseline of the
cells/s and memory ratios. `--quick`: resolution 9 only.

Run: python -m tests.bench.scale [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.bench._common import emit, parse_args

CHILD = """
import json, resource, sys, time
from twin.demo import build_binhai, build_tianjin
build = {"binhai": build_binhai, "tianjin": build_tianjin}[sys.argv[1]]
start = time.perf_counter()
twin = build(int(sys.argv[2]), 0)
seconds = time.perf_counter() - start
print(json.dumps({"cells": len(twin), "seconds": seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(city: str, resolution: int) -> dict:
    """Wall time, cells and peak memory of one uncached build in a process of its own."""
    out = subprocess.run([sys.executable, "-c", CHILD, city, str(resolution)], check=True,
                         capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args(__doc__)
    base = build("binhai", 9)
    base_rate = base["cells"] / base["seconds"]
    for resolution in (9,) if args.quick else (9, 10):
        run = build("tianjin", resolution)
        tag = f"tianjin_r{resolution}"
        emit("scale", f"{tag}_build_s", run["seconds"], "s", "binhai r9 build",
             base["seconds"])
        emit("scale", f"{tag}_cells_per_s", run["cells"] / run["seconds"], "cells/s",
             "binhai r9 build cells/s", base_rate)
        emit("scale", f"{tag}_peak_memory_mb", run["peak_mb"], "MB", "binhai r9 build peak",
             base["peak_mb"])
        emit("scale", f"{tag}_cells", run["cells"], "cells", "binhai r9 cells", base["cells"])


if __name__ == "__main__":
    main()
