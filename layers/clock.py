"""Clocks for the closed loop: the wall clock, and a manual clock that tests (and replays) move.

Everything in the loop that asks "what time is it?" (SLA deadlines, escalation, rule durations,
parking timers) takes a `clock` callable returning epoch seconds, so a test can jump 30 minutes
without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def wall() -> float:
    """Epoch seconds now."""
    return time.time()


class ManualClock:
    """A clock that only moves when told: `clock()` reads it, `advance(s)` / `set(t)` move it."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.t = float(start)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s): use set() to rewind on purpose")
        self.t += float(seconds)
        return self.t

    def set(self, t: float) -> float:
        self.t = float(t)
        return self.t


def pause(seconds: float, stop: Callable[[], bool], step: float = 0.2) -> None:
    """Sleep up to `seconds` of wall time, waking early once `stop()` is true."""
    end = time.monotonic() + max(0.0, seconds)
    while not stop():
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))
