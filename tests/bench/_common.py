"""Benchmark plumbing: timing helpers and the JSON-lines record DESIGN.md asks for."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable


def parse_args(description: str,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """`--quick`: a smaller size that still shows the ratio; `extra` adds a bench's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def best_time(func: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of `repeat` calls in seconds (the least disturbed by a noisy machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def emit(bench: str, metric: str, value: float, unit: str, baseline: str | None = None,
         baseline_value: float | None = None) -> dict:
    """Print one JSON line: value, its baseline measured in the same run, and their ratio."""
    record = {"bench": bench, "metric": metric, "value": value, "unit": unit,
              "baseline": baseline, "baseline_value": baseline_value,
              "ratio": (value / baseline_value) if baseline_value else None}
    print(json.dumps(record), flush=True)
    sys.stdout.flush()
    return record
